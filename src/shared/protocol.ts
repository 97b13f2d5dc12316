/**
 * Supervisor <-> worker messages: one discriminated union each way. Plain data only
 * (structured clone); match on `type`, never on classes.
 */
import type { GatewayConfig } from '../config/types.js';
import type { GatewaySettings } from './settings.js';

export interface WorkerData {
  workerId: number;
  settings: GatewaySettings;
}

export type ToWorker =
  | { type: 'config'; version: number; config: GatewayConfig }
  /** Stop accepting, finish in-flight requests, then exit. */
  | { type: 'drain'; timeoutMs: number }
  | { type: 'status' };

export type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'listen-failed'; error: string }
  | { type: 'config-applied'; version: number; hash: string }
  | { type: 'config-failed'; version: number; error: string }
  | { type: 'drained'; abandoned: number }
  | { type: 'status'; inflight: number; requests: number; configVersion: number };
