// The official SDK's EnvironmentWorker (@anthropic-ai/sdk 1.16.0, unmodified)
// for bench/worker.sh: polls one environment and serves its sessions one item
// at a time with the SDK's built-in toolset, until SIGTERM/SIGINT.
//
// Reads ANTHROPIC_BASE_URL, ANTHROPIC_ENVIRONMENT_ID and the environment key
// from ANTHROPIC_ENVIRONMENT_KEY (never argv). argv[2]: the workdir;
// OMNI_BENCH_MAX_IDLE_MS: the session idle limit (default 1000).
import Anthropic from '@anthropic-ai/sdk';
import * as fs from 'node:fs';

const env = process.env;
const workdir = process.argv[2];
if (!workdir || !env.ANTHROPIC_BASE_URL || !env.ANTHROPIC_ENVIRONMENT_ID || !env.ANTHROPIC_ENVIRONMENT_KEY) {
    console.error('usage: ANTHROPIC_BASE_URL=... ANTHROPIC_ENVIRONMENT_ID=... ANTHROPIC_ENVIRONMENT_KEY=... node worker.mjs WORKDIR');
    process.exit(2);
}
fs.mkdirSync(workdir, { recursive: true });
const environmentKey = env.ANTHROPIC_ENVIRONMENT_KEY;
delete process.env.ANTHROPIC_ENVIRONMENT_KEY;

const client = new Anthropic({ apiKey: null, authToken: environmentKey, baseURL: env.ANTHROPIC_BASE_URL, maxRetries: 2 });
const ac = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => ac.abort());

const worker = client.beta.environments.work.worker({
    environmentId: env.ANTHROPIC_ENVIRONMENT_ID,
    environmentKey,
    workdir,
    maxIdleMs: Number(env.OMNI_BENCH_MAX_IDLE_MS || 1000),
    workerId: 'bench-sdk-worker',
});
try {
    await worker.run(ac.signal);
} catch (e) {
    if (!ac.signal.aborted) {
        console.error(`sdk worker failed: ${e}`);
        process.exit(1);
    }
}
process.exit(0);
