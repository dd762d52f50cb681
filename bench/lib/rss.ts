/**
 * Samples this process's RSS on a timer (default every 20 ms) and at explicit points, keeping the
 * peak. Timers only fire when the event loop gets a turn, so call sample() at the end of each run
 * too; `samples` tells how many timer samples actually happened.
 */
export class RssSampler {
  peak = 0;
  samples = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly intervalMs = 20) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => {
      this.samples++;
      this.sample();
    }, this.intervalMs);
    this.timer.unref();
  }

  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
    return rss;
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.peak;
  }
}

export const MB = 2 ** 20;
