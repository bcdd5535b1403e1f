/** What every handler of the REST API sees: its dependencies, its request id and its logger. */
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import type { Logger } from '../../lib/logger.js';

export interface ApiEnv {
  Bindings: { event?: LambdaEvent; lambdaContext?: LambdaContext };
  Variables: { requestId: string; logger: Logger };
}
