/**
 * wrk (Debian package `wrk`): a C load generator, sharper than autocannon on 2 cores (µs latency,
 * less CPU per request). The request comes from a generated Lua script whose `done()` prints the
 * summary, the latency percentiles and wrk's own /proc/self/stat (its CPU time) as JSON.
 */
import { writeFileSync } from 'node:fs';
import { rawRequest } from '../lib/http-request.js';
import { HOST } from '../lib/net.js';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { clockTicksPerSecond, parseProcStat } from '../cpu.js';
import { makeTempDir, spawnManaged, stopManaged } from '../lib/procs.js';
import { which } from '../lib/which.js';
import type { BenchRequest } from '../scenarios/types.js';
import type { LoadOptions, LoadResult, LoadTool } from './types.js';

export const WRK_INSTALL_HINT = 'install it with: apt-get install -y wrk   (Debian/Ubuntu; as root)';

export function findWrk(): string | null {
  return which('wrk');
}

function luaString(s: string): string {
  // A Lua long-bracket-free quoted string: escape backslash, quote, and control bytes.
  return `"${[...Buffer.from(s, 'utf8')]
    .map((b) => (b === 0x5c ? '\\\\' : b === 0x22 ? '\\"' : b < 0x20 || b > 0x7e ? `\\${String(b).padStart(3, '0')}` : String.fromCharCode(b)))
    .join('')}"`;
}

/**
 * Several requests (a scenario's spread): their raw bytes go to a file, each as "<length>\\n<bytes>",
 * which every wrk thread reads once at start-up; `request()` then hands them out in turn. Each
 * thread starts at its own offset so that threads do not walk the table in lockstep.
 */
function spreadLua(file: string): string {
  return `
local reqs = {}
do
  local f = assert(io.open(${luaString(file)}, "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = data:find("\\n", pos, true)
    local len = tonumber(data:sub(pos, nl - 1))
    reqs[#reqs + 1] = data:sub(nl + 1, nl + len)
    pos = nl + 1 + len
  end
end
local nreqs = #reqs
local nextreq = 0
local threads = 0
setup = function(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
init = function(args)
  nextreq = (tonumber(offset) or 0) % nreqs
end
request = function()
  nextreq = nextreq + 1
  if nextreq > nreqs then nextreq = 1 end
  return reqs[nextreq]
end
`;
}

function script(req: BenchRequest, spreadFile: string | null): string {
  const lines = [`wrk.method = ${luaString(req.method)}`, `wrk.path = ${luaString(req.path)}`];
  for (const [k, v] of Object.entries(req.headers ?? {})) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  if (req.body !== undefined) lines.push(`wrk.body = ${luaString(req.body)}`);
  if (spreadFile !== null) lines.push(spreadLua(spreadFile));
  lines.push(`
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'PORTCULLIS_WRK {"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"p999_us":%.0f,"max_us":%.0f,"mean_us":%.3f}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
  local f = io.open("/proc/self/stat", "r")
  if f then
    io.write("PORTCULLIS_WRK_STAT ", f:read("*l"), "\\n")
    f:close()
  end
end
`);
  return lines.join('\n');
}

interface WrkSummary {
  duration_us: number;
  requests: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  mean_us: number;
}

export function wrkTool(bin: string): LoadTool {
  const v = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  const version = /wrk\s+(\S+)/.exec(`${v.stdout ?? ''}${v.stderr ?? ''}`)?.[1] ?? 'unknown';
  const dir = makeTempDir('wrk');
  let n = 0;
  return {
    name: 'wrk',
    version,
    async run(opts: LoadOptions): Promise<LoadResult> {
      const scriptPath = join(dir, `request-${++n}.lua`);
      let spreadFile: string | null = null;
      if (opts.requests !== undefined && opts.requests.length > 1) {
        spreadFile = join(dir, `requests-${n}.bin`);
        const host = `${HOST}:${opts.port}`;
        writeFileSync(spreadFile, Buffer.concat(opts.requests.flatMap((r) => {
          const raw = rawRequest(r, host);
          return [Buffer.from(`${raw.length}\n`, 'latin1'), raw];
        })));
      }
      writeFileSync(scriptPath, script(opts.request, spreadFile));
      const threads = Math.max(1, Math.min(opts.threads, opts.connections));
      const args = [
        `-t${threads}`,
        `-c${opts.connections}`,
        `-d${opts.durationSec}s`,
        `--timeout`,
        `${opts.timeoutSec}s`,
        '-s',
        scriptPath,
        `http://127.0.0.1:${opts.port}${opts.request.path}`,
      ];
      const proc = spawnManaged('wrk', bin, args, { pipe: true });
      let out = '';
      let err = '';
      proc.child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
      proc.child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
      const watchdog = setTimeout(() => void stopManaged(proc, 'SIGKILL', 1000), (opts.durationSec + 30) * 1000);
      const { code, signal } = await proc.exited;
      clearTimeout(watchdog);
      const line = /^PORTCULLIS_WRK (\{.*\})$/m.exec(out)?.[1];
      if (code !== 0 || line === undefined) {
        throw new Error(`wrk failed (code ${code}, signal ${signal}): ${bin} ${args.join(' ')}\n${err}${out}`.trimEnd());
      }
      const s = JSON.parse(line) as WrkSummary;
      const statLine = /^PORTCULLIS_WRK_STAT (.*)$/m.exec(out)?.[1];
      const stat = statLine !== undefined ? parseProcStat(statLine) : null;
      const durationSec = s.duration_us / 1e6;
      return {
        tool: 'wrk',
        durationSec,
        requests: s.requests,
        rps: s.requests / durationSec,
        latencyMs: {
          p50: s.p50_us / 1000,
          p90: s.p90_us / 1000,
          p99: s.p99_us / 1000,
          p999: s.p999_us / 1000,
          max: s.max_us / 1000,
          mean: s.mean_us / 1000,
        },
        latencyResolutionMs: 0.001,
        non2xx: s.status,
        errors: s.connect + s.read + s.write + s.timeout,
        timeouts: s.timeout,
        statusCodes: null,
        loadgenCpuUs: stat === null ? null : ((stat.utime + stat.stime) * 1e6) / clockTicksPerSecond(),
      };
    },
  };
}
