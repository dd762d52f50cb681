/**
 * Scenario 7, recovery at the sink (issue 14): how long a user's results stop after a SIGKILL,
 * measured where the user sees them. A cluster of its own — master (embedded broker), workers
 * w-1 and w-2, one agent — runs plant-monitor live (paced sensors at real time, 1 s windows,
 * checkpoints every --checkpoint-ms) with its MQTT sink on the master's broker; this process
 * subscribes to the results and notes each one's arrival. Per kill: wait until results flow,
 * a random 0–1 s more (so kills fall anywhere in a window), note the newest window end that has
 * arrived, SIGKILL, and wait for the first result of a later window (a replay re-publishing an
 * older one does not count):
 *  - worker: the worker running the windows (and the sink), with the other worker up; measured
 *    from the kill; the killed worker is restarted afterwards, so the next kill again has a
 *    second worker up;
 *  - agent: killed and restarted at once; measured from the kill and from the new process being
 *    back ("agent started");
 *  - master: killed and restarted at once on the same ports and data; measured from the kill and
 *    from the master being back ("master started").
 * Also reported: how late that first result was against the usual delay from a window's end to
 * its arrival (median before the kill); for worker kills, when the other worker's part was running
 * again (its "application running" line: the takeover itself, without the wait for the window to
 * end); and both workers' RSS before the first kill (the idle one holds a hot standby).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { adminTokenOf, launchMaster, launchNode, mqttLogin, nodeMasterArgs, waitForNodesOnline, type ChildNode } from '../../cli/src/launcher.js';
import { stopNode } from '../lib/cluster.js';
import type { BenchContext } from '../lib/context.js';
import { repoRoot } from '../lib/paths.js';
import { spread } from '../lib/stats.js';
import { int } from '../lib/table.js';
import { callMaster } from '../../cli/src/submit.js';
import { prepareSubmission, sleep } from '../lib/submit.js';
import type { Scenario } from './scenario.js';

const APP = join(repoRoot, 'examples/plant-monitor.ts');
const TOPIC = 'bench/recovery/windows';
type Kind = 'worker' | 'agent' | 'master';

interface Arrival {
  at: number;
  windowEnd: number;
}

/** One SIGKILL's figures, ms. */
interface KillFigures {
  fromKill: number;
  /** From the restarted process's readiness line (agent, master). */
  fromBack: number | null;
  /** First new result's arrival minus (its window end + the usual delay). */
  lateBy: number;
  /** Worker kills: from the kill to the other worker's "application running" (its part runs again). */
  partRunning: number | null;
  /** What the processes logged between the kill and that result. */
  timeline: string;
}

/** Log lines that mark the steps of a recovery, for the timeline printed after each kill. */
const STEPS = /^(recovering application|standby taking over|application (running|failed)|assignment changed|master started|(worker|agent) started|node (online|offline))/;

class RecoveryCluster {
  readonly arrivals: Arrival[] = [];
  /** Recovery steps logged by every process (their own clock: one machine). */
  readonly steps: { at: number; who: string; msg: string }[] = [];
  private sub: mqtt.MqttClient | null = null;
  master!: { node: ChildNode; brokerUrl: string; brokerTlsUrl: string | null; httpUrl: string; adminToken: string };
  private adminToken: string | null = null;
  readonly nodes = new Map<string, ChildNode>();
  private masterArgs: string[] = [];

  constructor(private readonly dir: string, private readonly checkpointMs: number) {}

  private watch(who: string, node: ChildNode): void {
    node.onLog((l) => {
      if (typeof l.msg === 'string' && typeof l.time === 'number' && STEPS.test(l.msg)) this.steps.push({ at: l.time, who, msg: typeof l.reason === "string" ? `${l.msg} (${l.reason})` : l.msg });
    });
  }

  /** The last log lines of every process (a failed kill's report). */
  tails(): string {
    return [['master', this.master.node] as const, ...[...this.nodes].map(([id, n]) => [id, n] as const)]
      .map(([id, n]) => `--- ${id}:\n${n.output.slice(-12).join('\n')}`).join('\n');
  }

  /** The steps logged in [from, to], as offsets from `from`. */
  timeline(from: number, to: number): string {
    return this.steps.filter((s) => s.at >= from && s.at <= to).map((s) => `+${s.at - from} ${s.who}: ${s.msg}`).join('; ');
  }

  async start(): Promise<void> {
    this.master = await launchMaster(['--data', join(this.dir, 'master'), '--mqtt-port', '0', '--http-port', '0'], this.masterEnv());
    this.adminToken = this.master.adminToken;
    const mqttPort = new URL(this.master.brokerUrl).port;
    const httpPort = new URL(this.master.httpUrl).port;
    const mqttsPort = new URL(this.master.brokerTlsUrl!).port;
    this.watch('master', this.master.node);
    // A restarted master comes back on the same ports: the nodes' enrolment names its TLS listener.
    this.masterArgs = ['--data', join(this.dir, 'master'), '--mqtt-port', mqttPort, '--http-port', httpPort, '--mqtts-port', mqttsPort];
    await Promise.all(['w-1', 'w-2', 'a-1'].map((id) => this.startNode(id)));
    await waitForNodesOnline(this.master.httpUrl, ['w-1', 'w-2', 'a-1']);
    // The consumer: resubscribes by itself after the broker (the master) restarts.
    // The results' reader is a device of role client allowed to read them (the broker refuses anonymous clients).
    const login = await mqttLogin(this.master.brokerUrl, 'bench-recovery-consumer', 'client', { read: [TOPIC] });
    this.sub = await mqtt.connectAsync(this.master.brokerUrl, { clientId: 'bench-recovery-consumer', reconnectPeriod: 100, protocolVersion: 4, ...login });
    this.sub.on('message', (_topic, payload) => {
      const at = Date.now();
      try {
        const w = JSON.parse(payload.toString()) as { windowEnd: number };
        if (typeof w.windowEnd === 'number') this.arrivals.push({ at, windowEnd: w.windowEnd });
      } catch { /* not a result */ }
    });
    this.sub.on('connect', () => void this.sub?.subscribeAsync(TOPIC, { qos: 1 }).catch(() => {}));
    await this.sub.subscribeAsync(TOPIC, { qos: 1 });
    const send = await prepareSubmission(this.master.httpUrl, APP, { windowMs: '1000', intervalMs: '50', seed: '3', topic: TOPIC });
    await send();
  }

  private masterEnv(): Record<string, string> {
    // The same admin token on every start: the benchmark keeps talking to the restarted master.
    return { TRIBUTARY_CHECKPOINT_INTERVAL_MS: String(this.checkpointMs), ...(this.adminToken ? { TRIBUTARY_ADMIN_TOKEN: this.adminToken } : {}) };
  }

  /** Starts (or restarts) node `id` with its data dir; resolves at its "started" line. */
  async startNode(id: string): Promise<ChildNode> {
    const kind = id.startsWith('w-') ? 'worker' : 'agent';
    const data = join(this.dir, id);
    // Enrols on its first start; a restart finds its identity and needs no token.
    const node = await launchNode(kind, id, [...(await nodeMasterArgs(kind, id, this.master.brokerUrl, data)), '--data', data]);
    this.nodes.set(id, node);
    this.watch(id, node);
    return node;
  }

  async restartMaster(): Promise<void> {
    this.master = await launchMaster(this.masterArgs, this.masterEnv());
    this.watch('master', this.master.node);
  }

  /** The node running the windows (processor 1), from the API (choosing a victim, not measuring). */
  async windowsNode(): Promise<string> {
    const app = (await callMaster({ url: this.master.httpUrl, token: adminTokenOf(this.master.httpUrl) }, 'GET', '/apps/plant-monitor')) as { tasks: { processor: number; node: string }[] };
    const t = app.tasks.find((x) => x.processor === 1);
    if (!t) throw new Error('plant-monitor has no window task');
    return t.node;
  }

  /** Until two windows have arrived since `since` and the last arrived within 1.5 s. */
  async untilFlowing(since: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const recent = this.arrivals.filter((a) => a.at > since);
      const ends = new Set(recent.map((a) => a.windowEnd));
      if (ends.size >= 2 && Date.now() - recent[recent.length - 1].at < 1500) return;
      if (Date.now() > deadline) throw new Error(`results not flowing within ${timeoutMs / 1000} s`);
      await sleep(20);
    }
  }

  /** The first arrival after `after` of a window ending later than `newestEnd`. */
  async firstNew(after: number, newestEnd: number, timeoutMs: number): Promise<Arrival> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.arrivals.find((a) => a.at >= after && a.windowEnd > newestEnd);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no new result within ${timeoutMs / 1000} s of the kill`);
      await sleep(2);
    }
  }

  async stop(): Promise<void> {
    await this.sub?.endAsync().catch(() => {});
    await Promise.all([...this.nodes.values()].map((n) => stopNode(n)));
    await stopNode(this.master.node);
  }
}

/** A process's resident set now, MB (Linux /proc; null elsewhere). */
async function rssMb(pid: number | undefined): Promise<number | null> {
  const status = pid === undefined ? '' : await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return kb ? Number(kb[1]) / 1024 : null;
}

/**
 * The workers' RSS with the application running, settled: the one running the windows and the
 * other, which hosts nothing of it (with hot standby, issue 14, it holds the application warm).
 */
async function workerRss(c: RecoveryCluster): Promise<{ hosting: number | null; idle: number | null }> {
  await sleep(3000);
  const hosting = await c.windowsNode();
  const idle = hosting === 'w-1' ? 'w-2' : 'w-1';
  return { hosting: await rssMb(c.nodes.get(hosting)?.child.pid), idle: await rssMb(c.nodes.get(idle)?.child.pid) };
}

async function killOnce(c: RecoveryCluster, kind: Kind, rnd: () => number, timeoutMs: number): Promise<KillFigures> {
  await c.untilFlowing(Date.now() - 1000, timeoutMs);
  await sleep(Math.floor(rnd() * 1000));
  // The usual delay from a window's end to its arrival, over the last few seconds.
  const usual = spread(c.arrivals.slice(-50).map((a) => a.at - a.windowEnd)).median;
  const newestEnd = Math.max(...c.arrivals.map((a) => a.windowEnd));
  const victim = kind === 'master' ? null : kind === 'agent' ? 'a-1' : await c.windowsNode();
  const proc = victim ? c.nodes.get(victim)! : c.master.node;
  const killedAt = Date.now();
  proc.child.kill('SIGKILL');
  await proc.exited;
  let backAt: number | null = null;
  if (kind === 'agent') {
    await c.startNode('a-1');
    backAt = Date.now();
  } else if (kind === 'master') {
    await c.restartMaster();
    backAt = Date.now();
  }
  // New: a window ending after the kill (event time is the wall clock: paced sensors) and after
  // the newest that had arrived (one still in flight at the kill is not a recovery's result).
  const first = await c.firstNew(killedAt, Math.max(newestEnd, killedAt), timeoutMs).catch((err: Error) => {
    throw new Error(`${kind} kill: ${err.message}; ${c.timeline(killedAt, Date.now())}; logs:\n${c.tails()}`);
  });
  const other = kind === 'worker' ? (victim === 'w-1' ? 'w-2' : 'w-1') : null;
  const running = c.steps.find((s) => s.who === other && s.at >= killedAt && s.msg === 'application running');
  if (kind === 'worker' && victim) {
    // Back for the next kill (not measured): the other worker then has a second one up again.
    await c.startNode(victim);
    await waitForNodesOnline(c.master.httpUrl, [victim]);
  }
  return {
    fromKill: first.at - killedAt, partRunning: running ? running.at - killedAt : null, fromBack: backAt === null ? null : first.at - backAt, lateBy: first.at - (first.windowEnd + usual),
    timeline: `killed ${victim ?? 'master'}; ${c.timeline(killedAt, first.at)}${backAt === null ? '' : `; back at +${backAt - killedAt}`}; first new result +${first.at - killedAt}`,
  };
}

export const recovery: Scenario = {
  name: 'recovery',
  title: '7. Recovery at the sink: SIGKILL to the first new result (worker, agent, master)',
  clusters: [],
  async run(ctx: BenchContext) {
    const o = ctx.options;
    let seed = 11;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const c = new RecoveryCluster(join(ctx.dir, 'recovery'), o.checkpointMs);
    try {
      await c.start();
      await c.untilFlowing(0, o.runTimeoutMs);
      ctx.say(`  plant-monitor live (1 s windows), results flowing at the sink`);
      const rss = await workerRss(c);
      ctx.say(`  worker RSS: running the windows ${rss.hosting?.toFixed(1) ?? '?'} MB, the other (hosting none of it) ${rss.idle?.toFixed(1) ?? '?'} MB`);
      const raw: Record<string, KillFigures[]> = {};
      for (const kind of o.recoveryKinds) {
        const figs: KillFigures[] = [];
        for (let i = 0; i < o.kills; i++) {
          const f = await killOnce(c, kind, rnd, 60_000);
          figs.push(f);
          ctx.say(`  ${kind} kill ${i + 1}/${o.kills}: first new result ${int(f.fromKill)} ms after the kill${f.fromBack === null ? '' : `, ${int(f.fromBack)} ms after it was back`}; ${int(f.lateBy)} ms later than usual`);
          ctx.say(`    ${f.timeline}`);
        }
        raw[kind] = figs;
        const fromKill = spread(figs.map((f) => f.fromKill));
        const back = figs.every((f) => f.fromBack !== null) ? spread(figs.map((f) => f.fromBack!)) : null;
        const late = spread(figs.map((f) => f.lateBy));
        const parts = figs.map((f) => f.partRunning).filter((x): x is number => x !== null);
        const part = parts.length > 0 ? spread(parts) : null;
        const measured = back ?? fromKill;
        const target = kind === 'master' ? 2000 : 1000;
        ctx.add({
          scenario: 'recovery', case: `${kind} SIGKILL${kind === 'worker' ? ' (second worker up)' : ' + restart'}`, records: 0, runs: figs.length,
          rate: null, latency: null, recordsPerCpuSec: null, processes: {},
          headline: `${back ? 'from back' : 'from kill'} median ${int(measured.median)} ms, worst ${int(measured.max)} ms` +
            `${back ? `; from kill ${int(fromKill.median)} / ${int(fromKill.max)} ms` : ''}; later than usual ${int(late.median)} / ${int(late.max)} ms` +
            `${part ? `; other worker's part running ${int(part.median)} / ${int(part.max)} ms` : ''}` +
            `; target < ${target / 1000} s median: ${measured.median < target ? 'met' : 'missed'}`,
          extra: {
            kills: figs.length, fromKillMedianMs: fromKill.median, fromKillWorstMs: fromKill.max,
            fromBackMedianMs: back?.median ?? null, fromBackWorstMs: back?.max ?? null,
            lateByMedianMs: late.median, lateByWorstMs: late.max, targetMs: target, met: measured.median < target ? 'yes' : 'no',
            partRunningMedianMs: part?.median ?? null, partRunningWorstMs: part?.max ?? null,
            workerRssHostingMb: rss.hosting, workerRssIdleMb: rss.idle,
          },
        });
      }
      ctx.raw.recovery = raw;
    } finally {
      await c.stop();
    }
  },
};
