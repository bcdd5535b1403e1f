/** A webhook store for app tests that do not touch webhooks: any call is a test bug, said loudly. */
import type { ApiDependencies } from '../../functions/http/dependencies.js';

const unexpected = async (): Promise<never> => {
  throw new Error('this test did not expect a webhook call');
};

export const unusedWebhooks: ApiDependencies['webhooks'] = {
  create: unexpected,
  list: unexpected,
  get: unexpected,
  delete: unexpected,
  deliveries: unexpected,
  replay: unexpected,
};
