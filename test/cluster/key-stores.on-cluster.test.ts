/** test/integration/key-stores.test.ts again, against a 3-node Redis Cluster (runOnCluster, test/support/redis.ts). */
import { runOnCluster } from '../support/redis.js';

await runOnCluster(() => import('../integration/key-stores.test.js'));
