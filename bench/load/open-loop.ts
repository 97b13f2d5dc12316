/**
 * The open-loop load generator for `--mode latency`: requests at a fixed rate, whatever the
 * server does, over a pool of keep-alive HTTP/1.1 connections with one request in flight per
 * connection (no pipelining), latency measured from each request's intended send time
 * (see latency.ts for why).
 *
 * Why not autocannon's rate options: autocannon refills each connection's budget of
 * `rate / connections` requests once a second and sends them back to back, so its "fixed rate" is
 * a burst at the start of every second, and its coordinated-omission correction assumes a 1 ms
 * interval whatever the rate (lib/httpClient.js, lib/run.js in autocannon 8). wrk2 is not packaged.
 * So this is a small wrk2-style generator: raw sockets, requests built once up front, a parser that
 * only frames responses (response-parser.ts).
 *
 * Scheduling: a timer wakes the generator when the next request is due (Node timers have a 1 ms
 * floor), and every response also sends whatever has come due. A due request waits for a free
 * connection if all are busy; that wait is part of its latency. The generator's own lateness is
 * reported as the send lag, so a reader can see how much of a small p50 is the generator's.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { rawRequest } from '../lib/http-request.js';
import { HOST } from '../lib/net.js';
import { LatencyRecorder, Schedule } from './latency.js';
import { ResponseParser } from './response-parser.js';
import type { LoadOptions, LoadResult } from './types.js';

export interface OpenLoopOptions extends Omit<LoadOptions, 'threads'> {
  /** Requests per second. */
  rate: number;
  /** Called about every 250 ms with the elapsed share of the schedule (0..1), for the progress bar. */
  onProgress?: (fraction: number) => void;
}

interface Conn {
  socket: Socket | null;
  parser: ResponseParser;
  busy: boolean;
  /** Schedule index of the request in flight. */
  k: number;
  sentAt: number;
  /** Bumped on every (re)connect, so events of a replaced socket are ignored. */
  generation: number;
}

export function runOpenLoop(opts: OpenLoopOptions): Promise<LoadResult> {
  const variants = (opts.requests ?? [opts.request]).map((r) => rawRequest(r, `${HOST}:${opts.port}`));
  const timeoutMs = opts.timeoutSec * 1000;
  const recorder = new LatencyRecorder();
  /** Responses by status code (the parser only passes 200..599). */
  const byStatus = new Float64Array(600);
  let errors = 0;
  let timeouts = 0;
  let unexpected = 0;
  let completed = 0;
  let sent = 0;
  let inFlight = 0;
  let schedule: Schedule | null = null;
  let finished = false;
  let timer: NodeJS.Timeout | null = null;
  let resolveDone: (() => void) | null = null;

  const conns: Conn[] = [];
  const idle: Conn[] = [];

  const onResponse = (c: Conn, status: number): void => {
    if (!c.busy) return;
    const now = performance.now();
    c.busy = false;
    inFlight--;
    completed++;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (status !== opts.expectStatus) unexpected++;
    recorder.record(schedule!.intendedAt(c.k), c.sentAt, now);
    idle.push(c);
    pump();
  };

  const fail = (c: Conn, isTimeout: boolean): void => {
    if (c.busy) {
      c.busy = false;
      inFlight--;
      errors++;
      if (isTimeout) timeouts++;
    }
    const idx = idle.indexOf(c);
    if (idx >= 0) idle.splice(idx, 1);
    c.socket?.destroy();
    c.socket = null;
    if (!finished) open(c);
  };

  function open(c: Conn, onReady?: (err: Error | null) => void): void {
    const generation = ++c.generation;
    c.parser.reset();
    const s = connect({ host: HOST, port: opts.port, noDelay: true });
    c.socket = s;
    s.on('connect', () => {
      if (c.generation !== generation) return;
      idle.push(c);
      onReady?.(null);
      if (schedule !== null) pump();
    });
    s.on('data', (buf: Buffer) => {
      if (c.generation === generation) c.parser.feed(buf);
    });
    s.on('error', (err) => {
      if (c.generation !== generation) return;
      if (onReady !== undefined && schedule === null) onReady(err);
    });
    s.on('close', () => {
      if (c.generation !== generation || finished) return;
      // A close while idle (server keep-alive limit) or busy (error): reconnect either way, not
      // in a tight loop when the server is gone.
      setTimeout(() => {
        if (c.generation === generation && !finished) fail(c, false);
      }, c.busy ? 0 : 50);
    });
  }

  function pump(): void {
    if (schedule === null || finished) return;
    const now = performance.now();
    const due = schedule.dueBy(now);
    while (sent < due && idle.length > 0) {
      const c = idle.pop() as Conn;
      if (c.socket === null || c.socket.destroyed) continue;
      c.busy = true;
      inFlight++;
      c.k = sent;
      c.sentAt = now;
      c.socket.write(variants[sent % variants.length] as Buffer);
      sent++;
    }
    armTimer(now);
    if (sent >= schedule.planned && inFlight === 0) finish();
  }

  function armTimer(now: number): void {
    if (timer !== null || schedule === null) return;
    const next = schedule.nextDueAt(sent);
    if (!Number.isFinite(next)) return;
    timer = setTimeout(() => {
      timer = null;
      pump();
    }, Math.max(0, next - now));
  }

  function finish(): void {
    if (finished) return;
    finished = true;
    resolveDone?.();
  }

  return new Promise<LoadResult>((resolve, reject) => {
    let ready = 0;
    let failed = false;
    for (let i = 0; i < opts.connections; i++) {
      const c: Conn = { socket: null, parser: null as unknown as ResponseParser, busy: false, k: 0, sentAt: 0, generation: 0 };
      c.parser = new ResponseParser(
        (status) => onResponse(c, status),
        () => {
          if (!finished) fail(c, false);
        },
      );
      conns.push(c);
      open(c, (err) => {
        if (failed) return;
        if (err !== null) {
          failed = true;
          finished = true;
          for (const x of conns) x.socket?.destroy();
          reject(new Error(`open loop: cannot connect to ${HOST}:${opts.port}: ${err.message}`));
          return;
        }
        if (++ready === opts.connections) start();
      });
    }

    function start(): void {
      const cpu0 = process.cpuUsage();
      schedule = new Schedule(opts.rate, opts.durationSec, performance.now());
      const startedAt = schedule.startMs;
      const sweep = setInterval(() => {
        const now = performance.now();
        for (const c of conns) if (c.busy && now - c.sentAt > timeoutMs) fail(c, true);
        opts.onProgress?.(Math.min(1, (now - startedAt) / (opts.durationSec * 1000)));
        // After the schedule, in-flight and never-sent requests get one timeout to finish.
        if (now - startedAt > opts.durationSec * 1000 + timeoutMs) finish();
      }, 250);
      const done = new Promise<void>((r) => {
        resolveDone = r;
      });
      pump();
      void done.then(() => {
        clearInterval(sweep);
        if (timer !== null) clearTimeout(timer);
        for (const c of conns) {
          if (c.busy) {
            errors++;
            timeouts++;
            c.busy = false;
          }
          c.socket?.destroy();
        }
        const cpu = process.cpuUsage(cpu0);
        const s = schedule as Schedule;
        const { latencyMs, uncorrectedMs, sendLagMs } = recorder.summary();
        const statusCodes: Record<string, number> = {};
        byStatus.forEach((n, code) => {
          if (n > 0) statusCodes[String(code)] = n;
        });
        resolve({
          tool: 'open-loop',
          durationSec: opts.durationSec,
          requests: completed,
          rps: completed / opts.durationSec,
          latencyMs,
          latencyResolutionMs: 0.001,
          non2xx: unexpected,
          errors,
          timeouts,
          statusCodes,
          loadgenCpuUs: cpu.user + cpu.system,
          openLoop: { offeredRate: opts.rate, planned: s.planned, unsent: s.planned - sent, uncorrectedMs, sendLagMs },
        });
      });
    }
  });
}
