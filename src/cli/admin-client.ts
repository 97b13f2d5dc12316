/**
 * `portcullis reload | quit [--wait] | health`: small clients of the running gateway's
 * admin API. They find it as `start` does (--admin-listen > PORTCULLIS_ADMIN_LISTEN >
 * 127.0.0.1:8001) and send the token (--admin-token > PORTCULLIS_ADMIN_TOKEN) when set.
 * node:http rather than fetch: it sends no Origin header, which the admin API refuses on POST.
 */
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { envName } from './options.js';

interface Target {
  host: string;
  port: number;
  token: string | null;
}

export interface Reply {
  status: number;
  body: unknown;
}

const CLIENT_FLAGS = {
  'admin-listen': { type: 'string' },
  'admin-token': { type: 'string' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

function target(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Target | string {
  const listen = (values['admin-listen'] as string | undefined) ?? (env[envName('admin-listen')] || '127.0.0.1:8001');
  if (listen === 'off') return 'the admin API is off (--admin-listen off): nothing to talk to';
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  if (m === null) return `admin-listen: expected HOST:PORT, got '${listen}'`;
  let host = m[1] ?? m[2]!;
  // A wildcard listen address is reached on loopback.
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  const token = (values['admin-token'] as string | undefined) ?? (env[envName('admin-token')] || null);
  return { host, port: Number(m[3]), token };
}

export function adminCall(t: Target, method: string, path: string, timeoutMs = 30_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (t.token !== null) headers.authorization = `Bearer ${t.token}`;
    const req = request({ host: t.host, port: t.port, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from the admin API within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function messageOf(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body) return String((body as { message: unknown }).message);
  return typeof body === 'string' ? body : JSON.stringify(body);
}

export async function clientCommand(
  command: 'reload' | 'quit' | 'health',
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options: CLIENT_FLAGS, allowPositionals: false, strict: true }).values;
  } catch (e) {
    err.write(`portcullis ${command}: ${(e as Error).message}\n`);
    return 2;
  }
  const t = target(values, env);
  if (typeof t === 'string') {
    err.write(`portcullis ${command}: ${t}\n`);
    return 2;
  }
  const where = `${t.host}:${t.port}`;
  try {
    if (command === 'health') {
      const r = await adminCall(t, 'GET', '/status/ready', 5000);
      if (r.status === 200) {
        out.write(`portcullis is healthy at ${where}\n`);
        return 0;
      }
      err.write(`portcullis is not ready at ${where}: ${r.status} ${messageOf(r.body)}\n`);
      return 1;
    }
    if (command === 'reload') {
      const r = await adminCall(t, 'POST', '/reload', 120_000);
      if (r.status === 200) {
        const b = r.body as { message: string; configuration_hash: string; configuration_version: number };
        out.write(`${b.message}: hash ${b.configuration_hash.slice(0, 12)}, version ${b.configuration_version}\n`);
        return 0;
      }
      const b = r.body as { flattened_errors?: Array<{ location: string; path: string; message: string }> };
      if (r.status === 400 && Array.isArray(b.flattened_errors)) {
        for (const e of b.flattened_errors) err.write(`${e.location}: ${e.path ? `${e.path}: ` : ''}${e.message}\n`);
        err.write(`portcullis reload: the config has ${b.flattened_errors.length} error(s); the running config keeps serving\n`);
      } else {
        err.write(`portcullis reload: ${r.status} ${messageOf(r.body)}\n`);
      }
      return 1;
    }
    // quit
    const status = await adminCall(t, 'GET', '/status', 5000);
    const pid = (status.body as { pid?: number }).pid;
    const r = await adminCall(t, 'POST', '/quit', 5000);
    if (r.status !== 202) {
      err.write(`portcullis quit: ${r.status} ${messageOf(r.body)}\n`);
      return 1;
    }
    out.write(`portcullis (pid ${pid}) is stopping\n`);
    if (values.wait !== true) return 0;
    const timeoutS = Number((values.timeout as string | undefined) ?? '120');
    const deadline = Date.now() + (Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : 120) * 1000;
    for (;;) {
      // Same machine: watch the pid. Elsewhere: wait until the admin API stops answering.
      const gone = typeof pid === 'number' && t.host.startsWith('127.') ? !alive(pid) : await adminCall(t, 'GET', '/status', 1000).then(() => false, () => true);
      if (gone) {
        out.write('portcullis stopped\n');
        return 0;
      }
      if (Date.now() > deadline) {
        err.write('portcullis quit: still running at the --timeout\n');
        return 1;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    err.write(`portcullis ${command}: cannot reach the admin API at ${where}: ${(e as Error).message}\n`);
    return 1;
  }
}
