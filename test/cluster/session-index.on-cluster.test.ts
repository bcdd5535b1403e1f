/** test/integration/session-index.test.ts again, against a 3-node Redis Cluster (runOnCluster, test/support/redis.ts). */
import { runOnCluster } from '../support/redis.js';

await runOnCluster(() => import('../integration/session-index.test.js'));
