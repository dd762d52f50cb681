import { adminHeaders } from '../../cli/src/launcher.js';

/**
 * A Server-Sent Events reader over fetch, for tests: `next(pred)` resolves with the first event
 * (already received or future) that satisfies `pred`, so tests await pushed data, never sleep.
 */
export interface SseEvent {
  event: string;
  data: string;
}

/** `url` on a master this process launched is opened with its admin token. */
export async function openSse(url: string, timeoutMs = 30_000) {
  const ctl = new AbortController();
  const res = await fetch(url, { signal: ctl.signal, headers: { accept: 'text/event-stream', ...adminHeaders(url) } });
  const events: SseEvent[] = [];
  let waiters: { pred: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  let ended = false;
  const pump = (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let sep = buf.indexOf('\n\n'); sep >= 0; sep = buf.indexOf('\n\n')) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const lines = block.split('\n').filter((l) => !l.startsWith(':'));
          const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (!data) continue;
          const e = { event: lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message', data };
          events.push(e);
          waiters = waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
        }
      }
    } catch {
      // aborted by close()
    }
    ended = true;
  })();
  return {
    res,
    events,
    next(pred: (e: SseEvent) => boolean, what: string, after = 0): Promise<SseEvent> {
      const seen = events.slice(after).find(pred);
      if (seen) return Promise.resolve(seen);
      if (ended) return Promise.reject(new Error(`stream ended before ${what}`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no SSE event within ${timeoutMs} ms: ${what}`)), timeoutMs);
        waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    async close() {
      ctl.abort();
      await pump;
    },
  };
}
