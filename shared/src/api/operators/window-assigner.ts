/**
 * Which event-time windows a timestamp belongs to. Windows are [start, end): start inclusive and
 * aligned to multiples of the slide, end exclusive.
 */
export interface WindowAssigner {
  readonly kind: 'tumbling' | 'sliding' | 'global';
  readonly sizeMs: number;
  readonly slideMs: number;
  /** Calls `each(start)` for every window containing `ts`. */
  assign(ts: number, each: (start: number) => void): void;
  end(start: number): number;
}

/** Fixed, non-overlapping windows of `sizeMs`. */
export function tumbling(sizeMs: number): WindowAssigner {
  checkPositiveInt('tumbling(sizeMs)', sizeMs);
  return {
    kind: 'tumbling',
    sizeMs,
    slideMs: sizeMs,
    assign: (ts, each) => each(ts - mod(ts, sizeMs)),
    end: (start) => start + sizeMs,
  };
}

/** Overlapping windows of `sizeMs`, one starting every `slideMs`. */
export function sliding(sizeMs: number, slideMs: number): WindowAssigner {
  checkPositiveInt('sliding(sizeMs)', sizeMs);
  checkPositiveInt('sliding(slideMs)', slideMs);
  if (slideMs > sizeMs) throw new TypeError(`sliding: slideMs (${slideMs}) must not exceed sizeMs (${sizeMs})`);
  return {
    kind: 'sliding',
    sizeMs,
    slideMs,
    assign: (ts, each) => {
      const last = ts - mod(ts, slideMs);
      for (let start = last; start > ts - sizeMs; start -= slideMs) each(start);
    },
    end: (start) => start + sizeMs,
  };
}

/**
 * One window over all time: its results come out when the input ends (the clock reaches
 * +Infinity). What a keyed aggregate without an explicit window uses.
 */
export function globalWindow(): WindowAssigner {
  return {
    kind: 'global',
    sizeMs: Infinity,
    slideMs: Infinity,
    assign: (_ts, each) => each(-Infinity),
    end: () => Infinity,
  };
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
}

function checkPositiveInt(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`${what} must be a positive integer number of milliseconds, got ${n}`);
}
