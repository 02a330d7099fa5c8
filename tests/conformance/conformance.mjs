// conformance.mjs — the official @anthropic-ai/sdk (pinned, unmodified) against
// omni-sim. Reads ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_ENVIRONMENT_ID,
// ANTHROPIC_ENVIRONMENT_KEY and OMNI_SIM_AGENT_ID (the sim's env file) and a
// scratch workdir as argv[2]. Prints TAP lines; exits 1 on any failure.
//
// 1. operator calls with the org key: environments, agents, sessions, events,
//    work stats/retrieve/update; env-key calls: work list;
// 2. the SDK's EnvironmentWorker serves scripted sessions (six-tools,
//    bash-once, burst:3) to completion with the six built-in tools;
// 3. /_sim/report must show every call answered once and every result right;
// 4. skills: when the sim serves a skill named conf-skill (--skill), the SDK's
//    setupSkills downloads it and unpacks it with the system tar (skipped
//    with a note when tar is not on PATH).
// 5. SDK 1.16 behaviour, served by the same worker (maxConcurrentCalls: 2):
//    threads:2 (two threads call at once: both answered once, and the calls
//    overlapped), big-bash (the bash tool's 30,000-character cut names the
//    file with the rest, which a read with view_range then reads), big-read
//    (the read tool refuses a file above 110,000 bytes without view_range),
//    threads-ask (a child thread's call confirmed by its id alone), budget:2
//    (budget_reached); the threads routes; the lease TTL of 300 s; webhooks
//    (session.requires_action, session.budget_reached) verified with the
//    SDK's webhooks.unwrap.
//
// The SDK's glob tool needs Node 22 (fs.glob). On older Node we check that it
// fails that way and substitute a small local glob tool of the same name, so
// the session still round-trips a glob call through the SDK runner.
import Anthropic from '@anthropic-ai/sdk';
import { betaAgentToolset20260401, setupSkills } from '@anthropic-ai/sdk/tools/agent-toolset/node';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import * as fsp from 'node:fs/promises';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as http from 'node:http';
import * as crypto from 'node:crypto';

const env = process.env;
const baseURL = env.ANTHROPIC_BASE_URL;
const workdir = process.argv[2] || fs.mkdtempSync('/tmp/omni-conf-');
const envId = env.ANTHROPIC_ENVIRONMENT_ID;
const agentId = env.OMNI_SIM_AGENT_ID;
let n = 0;
let failed = 0;

function ok(cond, what, extra) {
    n++;
    if (cond) {
        console.log(`ok ${n} - ${what}`);
    } else {
        failed++;
        console.log(`not ok ${n} - ${what}`);
        if (extra !== undefined) console.log(`#   ${JSON.stringify(extra).slice(0, 600)}`);
    }
}

async function report() {
    const r = await fetch(`${baseURL}/_sim/report`);
    return r.json();
}

async function expectError(p, status, code) {
    try {
        await p;
        return false;
    } catch (e) {
        const gotCode = e?.error?.error?.details?.error_code;
        return e.status === status && (code === undefined || gotCode === code);
    }
}

// a glob that needs only Node 20: '*' and '?' in the last component, relative to the root
function localGlobTool(ctx) {
    return betaTool({
        name: 'glob',
        description: 'glob (Node < 22 stand-in for the SDK tool)',
        inputSchema: { type: 'object', properties: { pattern: { type: 'string' }, path: { type: 'string' } }, required: ['pattern'] },
        run: async ({ pattern, path: sub }) => {
            const root = path.resolve(ctx.workdir, sub || '.');
            const dir = path.join(root, path.dirname(pattern));
            const re = new RegExp('^' + path.basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
            const hits = (await fsp.readdir(dir)).filter((f) => re.test(f)).map((f) => path.join(dir, f));
            return hits.length ? hits.join('\n') : 'no matches';
        },
    });
}

const client = new Anthropic({ apiKey: env.ANTHROPIC_API_KEY, baseURL, maxRetries: 2 });
const envClient = new Anthropic({ apiKey: null, authToken: env.ANTHROPIC_ENVIRONMENT_KEY, baseURL, maxRetries: 2 });

console.log(`# node ${process.version}, fs.glob ${typeof fs.glob}`);

// ---- operator calls ----
const e0 = await client.beta.environments.retrieve(envId);
ok(e0.id === envId && e0.config?.type === 'self_hosted', 'environments.retrieve', e0);
const e1 = await client.beta.environments.create({ name: 'conformance', config: { type: 'self_hosted' }, metadata: { suite: 'conf' } });
ok(e1.id.startsWith('env_') && e1.metadata.suite === 'conf', 'environments.create', e1);
const listed = [];
for await (const e of client.beta.environments.list({ limit: 1 })) listed.push(e.id);
ok(listed.includes(envId) && listed.includes(e1.id), 'environments.list auto-paginates (limit 1)', listed);
const e1u = await client.beta.environments.update(e1.id, { description: 'updated', metadata: { suite: null } });
ok(e1u.description === 'updated' && Object.keys(e1u.metadata).length === 0, 'environments.update', e1u);
await client.beta.environments.archive(e1.id);
ok(await expectError(client.beta.environments.update(e1.id, { name: 'x' }), 400, 'environment_archived'), 'archived environment update -> 400 environment_archived');
const del = await client.beta.environments.delete(e1.id);
ok(del.type === 'environment_deleted', 'environments.delete', del);
ok(await expectError(client.beta.environments.retrieve(e1.id), 404), 'deleted environment -> 404');

const agent = await client.beta.agents.retrieve(agentId);
ok(agent.id === agentId, 'agents.retrieve', agent);

const scenarios = ['six-tools', 'bash-once', 'burst:3'];
const sessions = [];
for (const sc of scenarios) {
    const s = await client.beta.sessions.create({
        agent: agentId,
        environment_id: envId,
        title: `conformance ${sc}`,
        metadata: { sim_scenario: sc },
        initial_events: [{ type: 'user.message', content: [{ type: 'text', text: `run ${sc}` }] }],
    });
    sessions.push(s);
}
ok(sessions.every((s) => s.id.startsWith('sesn_')), 'sessions.create x3');
const got = await client.beta.sessions.retrieve(sessions[0].id);
ok(got.environment_id === envId && Array.isArray(got.agent.skills), 'sessions.retrieve', got);
const upd = await client.beta.sessions.update(sessions[0].id, { metadata: { note: 'x' } });
ok(upd.metadata.note === 'x' && upd.metadata.sim_scenario === 'six-tools', 'sessions.update metadata patch', upd.metadata);
const sl = [];
for await (const s of client.beta.sessions.list({ limit: 2 })) sl.push(s.id);
ok(sessions.every((s) => sl.includes(s.id)), 'sessions.list auto-paginates', sl);
const evs = [];
for await (const ev of client.beta.sessions.events.list(sessions[1].id, { limit: 1 })) evs.push(ev.type);
ok(evs[0] === 'user.message' && evs.includes('agent.tool_use'), 'events.list auto-paginates', evs);
const tevs = [];
for await (const ev of client.beta.sessions.events.list(sessions[1].id, { types: ['agent.tool_use'] })) tevs.push(ev.type);
ok(tevs.length === 1 && tevs[0] === 'agent.tool_use', 'events.list types filter', tevs);

const stats = await client.beta.environments.work.stats(envId);
ok(stats.type === 'work_queue_stats' && stats.depth === 3 && stats.pending === 0, 'work.stats before the worker', stats);
const works = [];
for await (const w of envClient.beta.environments.work.list(envId)) works.push(w);
ok(works.length === 3 && works.every((w) => w.state === 'queued'), 'work.list with the environment key', works.map((w) => w.state));
ok(await expectError(client.beta.environments.work.list(envId), 403), 'work.list with the org key -> 403');
const wr = await client.beta.environments.work.retrieve(works[0].id, { environment_id: envId });
ok(wr.id === works[0].id && wr.secret === null, 'work.retrieve (org key)', wr);
const wu = await client.beta.environments.work.update(works[0].id, { environment_id: envId, metadata: { tag: 'conf' } });
ok(wu.metadata.tag === 'conf', 'work.update metadata', wu);

// ---- SDK 1.16: a webhook endpoint, then the sessions of the new scenarios ----
const whKey = 'whsec_' + crypto.randomBytes(24).toString('base64');
const hooks = [];
const hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
        hooks.push({ body, headers: req.headers });
        res.writeHead(204);
        res.end();
    });
});
await new Promise((r) => hookServer.listen(0, '127.0.0.1', r));
const whSet = await fetch(`${baseURL}/_sim/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `http://127.0.0.1:${hookServer.address().port}/hook`, key: whKey }),
});
ok(whSet.status === 200, 'webhook endpoint set on the sim (POST /_sim/webhooks)', whSet.status);
const scen116 = ['threads:2', 'big-bash', 'big-read', 'threads-ask', 'budget:2'];
const s116 = {};
for (const sc of scen116) {
    s116[sc] = await client.beta.sessions.create({
        agent: agentId,
        environment_id: envId,
        title: `conformance ${sc}`,
        metadata: { sim_scenario: sc },
        initial_events: [{ type: 'user.message', content: [{ type: 'text', text: `run ${sc}` }] }],
    });
    sessions.push(s116[sc]);
}

// ---- the SDK worker serves the sessions ----
const sdkToolset = betaAgentToolset20260401({ workdir });
const sdkGlob = sdkToolset.find((t) => t.name === 'glob');
let globNote = 'SDK glob tool';
if (typeof fs.glob !== 'function') {
    let err = null;
    try {
        await sdkGlob.run({ pattern: '*' });
    } catch (e) {
        err = e;
    }
    ok(err !== null, 'SDK glob tool fails on this Node (no fs.glob), as documented', String(err));
    globNote = 'local stand-in glob tool (Node < 22)';
}
console.log(`# glob served by: ${globNote}`);
const tools = (ctx) => {
    const set = betaAgentToolset20260401(ctx);
    return typeof fs.glob === 'function' ? set : set.map((t) => (t.name === 'glob' ? localGlobTool(ctx) : t));
};

const ac = new AbortController();
// two workers (an EnvironmentWorker serves one item at a time), which keeps the run short
const workers = ['conformance-worker', 'conformance-worker-2'].map((workerId) =>
    client.beta.environments.work.worker({
        environmentId: envId,
        environmentKey: env.ANTHROPIC_ENVIRONMENT_KEY,
        workdir,
        tools,
        maxIdleMs: 1500,
        maxConcurrentCalls: 2,
        workerId,
    }),
);
const done = Promise.all(workers.map((w) => w.run(ac.signal).catch((e) => e))).then((errs) => errs.find((e) => e !== undefined));
const deadline = Date.now() + 40000;
let rep;
let confirmed = null;
for (;;) {
    // threads-ask: the child thread's call waits for a confirmation that names only its id
    if (!confirmed) {
        const sid = s116['threads-ask'].id;
        const calls = (await client.beta.sessions.events.list(sid, { types: ['agent.tool_use'] })).data;
        if (calls.length === 1) {
            const sent = await client.beta.sessions.events.send(sid, {
                events: [{ type: 'user.tool_confirmation', tool_use_id: calls[0].id, result: 'allow' }],
            });
            confirmed = { call: calls[0], sent: sent.data[0] };
        }
    }
    rep = await report();
    const mine = rep.sessions.filter((s) => sessions.some((x) => x.id === s.id));
    const allDone = mine.every((s) => s.completed);
    if ((allDone && rep.items_not_stopped === 0) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
}
const mid = await client.beta.environments.work.stats(envId);
ok(mid.workers_polling >= 1, 'stats.workers_polling sees the SDK worker', mid);
ac.abort();
const runErr = await done;
ok(runErr === undefined || runErr?.name === 'AbortError' || /abort/i.test(String(runErr)), 'worker.run ends on abort', String(runErr));

rep = await report();
const mine = rep.sessions.filter((s) => sessions.some((x) => x.id === s.id));
ok(mine.length === 3 + scen116.length && mine.every((s) => s.completed), 'all scripted sessions completed', mine);
ok(rep.duplicate_results === 0, 'no duplicate results', rep.duplicate_results);
ok(rep.unanswered_calls === 0, 'no unanswered calls', rep.unanswered_calls);
ok(rep.result_mismatches === 0, 'every result matched what the script expected', rep.problems);
ok(rep.protocol_errors === 0, 'no protocol errors', rep.problems);
ok(rep.items_not_stopped === 0, 'every work item stopped by the worker', rep.work_items);
const calls = { 'six-tools': 6, 'bash-once': 1, 'burst:3': 3, 'threads:2': 2, 'big-bash': 2, 'big-read': 3, 'threads-ask': 1, 'budget:2': 2 };
const want = Object.values(calls).reduce((a, b) => a + b, 0);
ok(mine.every((s) => s.tool_calls_emitted === calls[s.scenario] && s.results_received === calls[s.scenario]), 'each call answered exactly once', mine.map((s) => [s.scenario, s.tool_calls_emitted, s.results_received]));
ok(rep.tool_calls_emitted === want && rep.results_received === want, `${want} calls, ${want} results`, [rep.tool_calls_emitted, rep.results_received]);
const six = (await client.beta.sessions.events.list(sessions[0].id, { limit: 1000, types: ['agent.tool_use'] })).data.map((e) => e.name);
ok(six.join(',') === 'write,read,edit,glob,grep,bash', 'six-tools used all six tools', six);
const f = fs.readdirSync(workdir).filter((x) => x.startsWith('omni-sim-six-'));
ok(f.length === 1 && fs.readFileSync(path.join(workdir, f[0]), 'utf8') === `alpha ${sessions[0].id}\ngamma\n`, 'six-tools file content on disk', f);

// ---- SDK 1.16 behaviour ----
const one = (sc) => mine.find((s) => s.id === s116[sc].id);
const th = one('threads:2');
ok(th.threads === 2 && th.unanswered_calls === 0 && th.duplicate_results === 0, 'threads:2: two threads, both calls answered once', th);
ok(th.calls_overlapped === true, `threads:2: the calls of the two threads overlapped (maxConcurrentCalls 2, overlap ${th.overlap_ms} ms)`, th);
const tsid = s116['threads:2'].id;
const threads = [];
for await (const t of client.beta.sessions.threads.list(tsid, { limit: 1 })) threads.push(t);
const primary = threads.find((t) => t.parent_thread_id === null);
const child = threads.find((t) => t.parent_thread_id !== null);
ok(threads.length === 2 && threads.every((t) => t.type === 'session_thread' && t.session_id === tsid) && primary && child?.parent_thread_id === primary.id, 'threads.list auto-paginates: the primary and one child', threads);
const idleOnly = (await client.beta.sessions.threads.list(tsid, { statuses: ['idle'] })).data;
ok(idleOnly.length === 2 && (await client.beta.sessions.threads.list(tsid, { statuses: ['running'] })).data.length === 0, 'threads.list statuses filter', idleOnly.map((t) => t.status));
const cget = await client.beta.sessions.threads.retrieve(child.id, { session_id: tsid });
ok(cget.id === child.id && cget.agent.type === 'inline', 'threads.retrieve (child, inline agent)', cget);
ok(await expectError(client.beta.sessions.threads.retrieve('sthr_nosuchthread', { session_id: tsid }), 404), 'unknown thread -> 404');
const tev = [];
for await (const e of client.beta.sessions.threads.events.list(child.id, { session_id: tsid })) tev.push(e);
const ctu = tev.find((e) => e.type === 'agent.tool_use');
ok(ctu && !ctu.session_thread_id && tev.some((e) => e.type === 'session.thread_status_idle' && e.stop_reason.type === 'requires_action' && e.stop_reason.event_ids.includes(ctu.id)), "the child's own events: its call (no session_thread_id) and its idle listing it", tev.map((e) => e.type));
const sev = (await client.beta.sessions.events.list(tsid, { limit: 1000 })).data;
const cross = sev.find((e) => e.type === 'agent.tool_use' && e.id === ctu?.id);
const ptu = sev.find((e) => e.type === 'agent.tool_use' && e.id !== ctu?.id);
ok(cross?.session_thread_id === child.id && ptu && !ptu.session_thread_id && sev.some((e) => e.type === 'session.thread_created' && e.session_thread_id === child.id), "the session's stream: thread_created, the child's call cross-posted with session_thread_id, the primary's without", sev.map((e) => e.type));
ok(await expectError(client.beta.sessions.threads.archive(primary.id, { session_id: tsid }), 400), 'archiving the primary thread -> 400');
const carch = await client.beta.sessions.threads.archive(child.id, { session_id: tsid });
ok(carch.status === 'terminated' && carch.archived_at !== null, 'threads.archive (child) -> terminated', carch);

const bb = one('big-bash');
ok(bb.result_mismatches === 0 && typeof bb.saved_output === 'string' && bb.tool_calls_emitted === 2, `big-bash: the bash result named its saved output (${bb.saved_output}) and the read with view_range got its end`, bb);
const bbText = (await client.beta.sessions.events.list(s116['big-bash'].id, { types: ['user.tool_result'] })).data[0]?.content?.[0]?.text ?? '';
ok(/^1\n2\n3\n/.test(bbText) && /\n\n\.\.\. \[\d+ lines truncated\] Full output saved to: \S+ — use read with view_range/.test(bbText) && bbText.indexOf('\n\n... [') <= 30000, 'big-bash: first 30,000 characters, then the truncation note', bbText.slice(-200));
const br = one('big-read');
const brTexts = (await client.beta.sessions.events.list(s116['big-read'].id, { types: ['user.tool_result'] })).data;
ok(br.result_mismatches === 0 && brTexts[1]?.is_error === true && /is 120000 bytes, exceeds 110000-byte limit\. Use the view_range parameter/.test(brTexts[1]?.content?.[0]?.text), 'big-read: refused above 110,000 bytes without view_range, then read with it', brTexts.map((e) => e.content?.[0]?.text?.slice(0, 120)));
const ta = one('threads-ask');
ok(confirmed && confirmed.call.session_thread_id && confirmed.sent.session_thread_id === confirmed.call.session_thread_id, 'threads-ask: a confirmation naming only tool_use_id is routed to the call\'s thread', confirmed);
ok(ta.completed && ta.protocol_errors === 0 && ta.result_mismatches === 0, 'threads-ask: the confirmed call ran once', ta);
const bu = one('budget:2');
const buLast = (await client.beta.sessions.events.list(s116['budget:2'].id, { order: 'desc', limit: 1 })).data[0];
ok(bu.budget_reached === true && bu.budget_used === 2 && buLast?.stop_reason?.type === 'budget_reached', 'budget:2: two calls, then idle with budget_reached', [bu, buLast]);

// the lease TTL: a heartbeat's ttl_seconds is the real API's 300
await fetch(`${baseURL}/_sim/environments/${envId}/healthcheck`, { method: 'POST' });
// reclaim: a long-poll the aborted worker left open may have taken the item
const hc = await envClient.beta.environments.work.poll(envId, { block_ms: 999, reclaim_older_than_ms: 1 });
await envClient.beta.environments.work.ack(hc.id, { environment_id: envId });
const hb = await envClient.beta.environments.work.heartbeat(hc.id, { environment_id: envId, expected_last_heartbeat: 'NO_HEARTBEAT' });
ok(hb.ttl_seconds === 300 && hb.lease_extended === true, 'heartbeat ttl_seconds is 300 by default', hb);
await envClient.beta.environments.work.stop(hc.id, { environment_id: envId, force: true });

// webhooks: every delivery verifies with the SDK's unwrap; both new types arrive
const hookDeadline = Date.now() + 3000;
while (Date.now() < hookDeadline && !(hooks.some((h) => h.body.includes('session.budget_reached')) && hooks.some((h) => h.body.includes('session.requires_action')))) await new Promise((r) => setTimeout(r, 50));
hookServer.close();
let unwrapped = [];
let unwrapErr = null;
try {
    unwrapped = hooks.map((h) => client.beta.webhooks.unwrap(h.body, { headers: h.headers, key: whKey }));
} catch (e) {
    unwrapErr = String(e);
}
ok(hooks.length > 0 && unwrapErr === null, `webhooks: ${hooks.length} deliveries, each verified by webhooks.unwrap`, unwrapErr);
const types = new Set(unwrapped.map((w) => w.data.type));
ok(types.has('session.requires_action') && unwrapped.some((w) => w.data.type === 'session.requires_action' && w.data.id === s116['threads-ask'].id), 'webhook session.requires_action for a session waiting on a confirmation', [...types]);
ok(unwrapped.some((w) => w.type === 'event' && w.data.type === 'session.budget_reached' && w.data.id === s116['budget:2'].id), 'webhook session.budget_reached', [...types]);
let forged = false;
try {
    client.beta.webhooks.unwrap(hooks[0].body.replace('"event"', '"evenT"'), { headers: hooks[0].headers, key: whKey });
} catch {
    forged = true;
}
ok(forged, 'a changed webhook body fails verification');

// ---- skills: setupSkills downloads a --skill directory from the sim ----
const simSkills = await (await fetch(`${baseURL}/_sim/skills`)).json();
const confSkill = simSkills.data.find((s) => s.name === 'conf-skill');
const onPath = (tool) => (env.PATH || '').split(':').some((d) => d && fs.existsSync(path.join(d, tool)));
if (!confSkill) {
    console.log('# skills: skipped (omni-sim was started without --skill .../conf-skill)');
} else if (!onPath('tar')) {
    console.log('# skills: skipped (the SDK unpacks skills with tar, which is not on PATH)');
} else {
    const skAgent = await client.beta.agents.create({
        name: 'conformance-skills',
        skills: [{ type: 'custom', skill_id: confSkill.id, version: 'latest' }],
    });
    ok(skAgent.skills?.[0]?.skill_id === confSkill.id, 'agents.create with skills', skAgent.skills);
    // a cloud environment: the session gets no work item for the worker
    const cloud = await client.beta.environments.create({ name: 'conformance-cloud', config: { type: 'cloud' } });
    const skSess = await client.beta.sessions.create({ agent: skAgent.id, environment_id: cloud.id });
    const skGot = await client.beta.sessions.retrieve(skSess.id);
    ok(skGot.agent.skills?.[0]?.version === 'latest', 'the session snapshots agent.skills', skGot.agent.skills);
    const v = await envClient.beta.skills.versions.retrieve('latest', { skill_id: confSkill.id });
    ok(v.type === 'skill_version' && v.id === confSkill.latest_version && v.name === 'conf-skill', 'skills.versions.retrieve latest (environment key)', v);
    const skWork = fs.mkdtempSync(path.join(workdir, 'skills-'));
    const cleanup = await setupSkills({ workdir: skWork, client: envClient, session: skGot });
    const dest = path.join(skWork, 'skills', 'conf-skill');
    const md = fs.existsSync(path.join(dest, 'SKILL.md')) ? fs.readFileSync(path.join(dest, 'SKILL.md'), 'utf8') : null;
    ok(md === 'conformance skill\n', 'setupSkills unpacked the skill (wrapper stripped)', fs.existsSync(dest) ? fs.readdirSync(dest) : 'missing');
    const runMode = fs.existsSync(path.join(dest, 'run.sh')) ? fs.statSync(path.join(dest, 'run.sh')).mode & 0o777 : -1;
    ok(runMode === 0o755, 'the executable bit survives', runMode.toString(8));
    await cleanup();
    ok(!fs.existsSync(dest), 'cleanup removes the skill directory');
}

// archive ends the session for any later stream
const arch = await client.beta.sessions.archive(sessions[1].id);
ok(arch.status === 'terminated', 'sessions.archive -> terminated', arch.status);

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
