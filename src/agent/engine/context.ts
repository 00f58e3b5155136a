import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { Db } from '../../db/connection.js';
import type { RunStatus } from '../../db/schema.js';
import type { IdGenerator } from '../../ids.js';
import type { ToolRegistry } from '../../tools/registry.js';
import type { RunLeases } from '../../cluster/runLeases.js';
import type { CapsService } from '../capsService.js';
import type { Dispatcher } from '../dispatcher.js';
import type { ModelClient } from '../modelClient.js';
import type { Outbox } from '../outbox.js';
import type { QueueThresholds } from '../policyContext.js';
import type { Foreground } from '../../foreground.js';

export interface EngineSettings {
  model: string;
  /** Bounded so one call's cost is bounded. */
  maxTokens: number;
  /** Used once when a tool call was cut off by max_tokens. */
  maxTokensRetry: number;
  queue: QueueThresholds;
  /** Runs of one workspace calling the model at once, across instances; the rest wait in FIFO order. */
  maxConcurrentRuns: number;
}

export interface EngineDeps {
  db: Db;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  model: ModelClient;
  /** Every Slack message goes through the persisted outbox, written in the same transaction as the change. */
  outbox: Outbox;
  registry: ToolRegistry;
  dispatcher: Dispatcher;
  settings: EngineSettings;
  /** Where a workspace's cards go (channel id), or undefined for the task thread. */
  cardRoute(teamId: string): Promise<string | undefined>;
  caps: CapsService;
  /** Which runs this instance may advance (one instance per run at a time). */
  leases: RunLeases;
  /** Each step waits its turn behind requests being answered (src/foreground.ts). */
  foreground?: Foreground;
}

/**
 * The little an engine instance keeps in memory. None of it describes a run (that is all in the
 * database); it is about what this process is doing right now.
 */
export interface EngineState {
  /** Set by shutdown: no new step starts. */
  stopped: boolean;
  /** Runs whose current step is a dispatch: their lease is kept at shutdown until the outcome is recorded. */
  readonly dispatching: Set<string>;
  /** Models already logged as unpriced, so the warning is not repeated on every call. */
  readonly warnedModels: Set<string>;
}

/** What every part of the engine is handed: the dependencies, the instance's state and its clock. */
export interface EngineContext {
  readonly deps: EngineDeps;
  readonly state: EngineState;
  /** This instance's lease owner id. */
  readonly owner: string;
  now(): string;
}

export function createEngineContext(deps: EngineDeps): EngineContext {
  return {
    deps,
    state: { stopped: false, dispatching: new Set(), warnedModels: new Set() },
    owner: deps.leases.owner,
    now: () => deps.clock.now().toISOString(),
  };
}

/** `model`: the next step is a model call, which needs a concurrency slot. */
export type StepResult = 'continue' | 'idle' | 'model';

/** Statuses of a run that is not over (it may still be ended by a failure or a stop). */
export const ACTIVE: readonly RunStatus[] = ['running', 'awaiting_approval'];
