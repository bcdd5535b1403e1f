/** test/integration/request-key-ttls.test.ts again, against a 3-node Redis Cluster (runOnCluster, test/support/redis.ts). */
import { runOnCluster } from '../support/redis.js';

await runOnCluster(() => import('../integration/request-key-ttls.test.js'));
