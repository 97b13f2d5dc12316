/**
 * Supervisor <-> worker messages: one discriminated union each way. Plain data only
 * (structured clone); match on `type`, never on classes.
 */
import type { ThreadPinning } from './affinity.js';
import type { GatewayConfig } from '../config/types.js';
import type { GatewaySettings } from './settings.js';

export interface WorkerData {
  workerId: number;
  settings: GatewaySettings;
  /**
   * The node's rate-limit counter table (src/shared/shm/rate-limit-table.ts): created once
   * by the supervisor, the same buffer for every worker and every replacement thread.
   */
  rateLimitTable: SharedArrayBuffer;
  /** The node's request metrics (src/shared/shm/metrics.ts): created once, like rateLimitTable. */
  metrics: SharedArrayBuffer;
}

export type ToWorker =
  | { type: 'config'; version: number; config: GatewayConfig }
  /** Stop accepting, finish in-flight requests, then exit. */
  | { type: 'drain'; timeoutMs: number }
  | { type: 'status' }
  /**
   * Test-only fault injection (PORTCULLIS_ENABLE_FAULT_INJECTION=1, docs/operations.md):
   * 'uncaught-exception' throws one, as a bug in a callback would; 'exit' ends the thread
   * at once (uWS closed first, connections cut), as a crash the worker cannot report would;
   * 'reject-next-config' makes the next config this worker is sent fail to compile (the
   * reload rollback path).
   */
  | { type: 'fault'; kind: FaultKind };

export type FaultKind = 'uncaught-exception' | 'exit' | 'reject-next-config';
export const FAULT_KINDS: readonly FaultKind[] = ['uncaught-exception', 'exit', 'reject-next-config'];

export type FromWorker =
  /** First message of a worker: the core it pinned itself to (--cpu-affinity) and its kernel thread id. */
  | ThreadPinning
  | { type: 'listening'; port: number }
  | { type: 'listen-failed'; error: string }
  | { type: 'config-applied'; version: number; hash: string }
  | { type: 'config-failed'; version: number; error: string }
  | { type: 'drained'; abandoned: number }
  /** An uncaught exception: the worker stopped accepting and drains, then exits 1. */
  | { type: 'fatal'; error: string }
  | { type: 'status'; inflight: number; requests: number; configVersion: number };
