// The process's peak resident memory, in bytes (Node only).
//
// Linux's /proc/self/status VmHWM is the high-water mark of this program's own memory. The
// portable getrusage maxRSS is not, on Linux: a child started by fork + exec inherits the
// parent's high-water mark at exec, so a small process started by a large one reports the
// large one's peak. So VmHWM where it exists, maxRSS elsewhere.
import { readFileSync } from 'node:fs';

export function peakResidentBytes(): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kib !== undefined) return Number(kib) * 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS * 1024;
}
