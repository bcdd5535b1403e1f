/** test/integration/simulated-mailbox.test.ts again, against a 3-node Redis Cluster (runOnCluster, test/support/redis.ts). */
import { runOnCluster } from '../support/redis.js';

await runOnCluster(() => import('../integration/simulated-mailbox.test.js'));
