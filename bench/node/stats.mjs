// One-shot official SDK call for bench/omnictl_stats.sh: the work-queue stats
// of one environment (ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL from the env).
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic();
const stats = await client.beta.environments.work.stats(process.argv[2]);
console.log(JSON.stringify(stats));
