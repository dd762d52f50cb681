// Preloaded (node --import) into CLI child processes by the benchmark: when the process exits,
// writes its own CPU time and peak RSS to $TRIBUTARY_BENCH_USAGE_FILE. A child process's
// resource usage is not otherwise visible to the parent in Node.
import { writeFileSync } from 'node:fs';

const file = process.env.TRIBUTARY_BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ userMicros: u.userCPUTime, systemMicros: u.systemCPUTime, maxRssKB: u.maxRSS }));
  });
}
