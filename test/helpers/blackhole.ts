/**
 * A loopback port where TCP connects hang (for connect-timeout tests), without firewall
 * rules: a child process listens with a backlog of 1 and is then SIGSTOPped, so it never
 * accepts; once its accept queue is full the kernel drops further SYNs and a connect()
 * neither succeeds nor fails until the client gives up.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export interface Blackhole {
  port: number;
  close(): Promise<void>;
}

const LISTENER = `const s = require('net').createServer(() => {}).listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => process.stdout.write(s.address().port + '\\n'));`;

export async function startBlackhole(): Promise<Blackhole> {
  const child = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
  });
  // A stopped child must not outlive the test run if the test process dies first.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  process.kill(child.pid!, 'SIGSTOP');
  // Fill the accept queue until a connect hangs.
  const fillers: Socket[] = [];
  let hung = false;
  for (let i = 0; i < 16 && !hung; i++) {
    const outcome = await new Promise<'connected' | 'hung' | 'error'>((resolve) => {
      const s = connect(port, '127.0.0.1');
      fillers.push(s);
      s.on('error', () => resolve('error'));
      s.once('connect', () => resolve('connected'));
      setTimeout(() => resolve('hung'), 300);
    });
    if (outcome === 'hung') hung = true;
  }
  const close = async (): Promise<void> => {
    for (const s of fillers) s.destroy();
    process.off('exit', killOnExit);
    child.kill('SIGKILL');
    await exited;
  };
  if (!hung) {
    await close();
    throw new Error('could not make a loopback connect hang (accept queue never filled)');
  }
  return { port, close };
}
