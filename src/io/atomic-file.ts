// Crash-safe file replacement: a reader sees the old file or the new one, never a torn one.
//
//   write name.tmp-<pid> → fsync it → rename over name → fsync the directory
//
// rename() is atomic on POSIX file systems; the first fsync makes the new bytes durable
// before the rename can be, the second makes the rename itself durable.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// Test hook: LLAMA_TS_TEST_PAUSE_WRITE=<file name> makes the writer of that file stop half
// way through its temporary file, print a line on stderr and wait forever, so a test can
// SIGKILL the process in the middle of a checkpoint.
const PAUSE_ENV = 'LLAMA_TS_TEST_PAUSE_WRITE';

function writeAll(fd: number, bytes: Uint8Array, from: number, to: number): void {
  let done = from;
  while (done < to) done += writeSync(fd, bytes, done, to - done);
}

function pauseForever(path: string): void {
  process.stderr.write(`test hook: paused while writing ${path}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // no timeout: until killed
}

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const half = bytes.length >> 1;
    writeAll(fd, bytes, 0, half);
    if (process.env[PAUSE_ENV] === basename(path)) {
      fsyncSync(fd);
      pauseForever(tmp);
    }
    writeAll(fd, bytes, half, bytes.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDirectory(dirname(path));
}

export function writeTextAtomic(path: string, text: string): void {
  writeFileAtomic(path, new TextEncoder().encode(text));
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// Deletes `*.tmp-<pid>` files in `dir` left by writers that no longer run (killed mid-write).
export function removeStaleTemporaries(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = /\.tmp-(\d+)$/.exec(name);
    if (!m || Number(m[1]) === process.pid || isRunning(Number(m[1]))) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
