/** Builds the engine the configuration names. The webjs engine is loaded only when chosen (it pulls in Puppeteer). */
import type { BlobStore } from '../../lib/blob-store.js';
import type { CommandBus } from '../../lib/command-bus.js';
import type { Logger } from '../../lib/logger.js';
import type { Redis } from '../../lib/redis.js';
import type { SessionDirectory } from '../../lib/session-directory.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import type { SessionHostConfig } from '../config.js';
import type { Engine } from './engine.js';
import { RedisSimulatedNetwork } from './simulator/simulated-network.js';
import { createSimulatorEngine } from './simulator/simulator-engine.js';

export interface EngineDependencies {
  redis: Redis;
  keys: RedisKeys;
  directory: SessionDirectory;
  bus: CommandBus;
  logger: Logger;
  /** Media: the simulator keeps what its sessions send here (its "WhatsApp servers"). */
  blobs: BlobStore;
}

export async function createEngine(config: SessionHostConfig, deps: EngineDependencies): Promise<Engine> {
  if (config.engine === 'simulator') {
    return createSimulatorEngine({
      network: new RedisSimulatedNetwork(deps.redis, deps.keys, deps.directory, deps.bus),
      dataDir: config.dataDir,
      autoScanMs: config.simulator.autoScanMs,
      qrRotateMs: config.simulator.qrRotateMs,
      readAfterMs: config.simulator.readAfterMs,
      logger: deps.logger,
      blobs: deps.blobs,
    });
  }
  const { createWebjsEngine } = await import('./webjs/webjs-engine.js');
  return createWebjsEngine({
    dataDir: config.dataDir,
    chromePath: config.webjs.chromePath,
    initTimeoutMs: config.webjs.initTimeoutMs,
    webCacheDir: config.webjs.webCacheDir,
    webVersion: config.webjs.webVersion,
    logger: deps.logger,
  });
}
