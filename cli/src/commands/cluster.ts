import { Option, type Command } from 'commander';
import { agentCommand } from '@tributary/edge-agent/command';
import {
  collect, configOption as config, configSources as sources, logLevelOption as logLevel, replayFlags, withMasterOptions, withReplayOptions,
} from '@tributary/edge-agent/node-options';

// The cloud package loads only for its own commands: `tributary run` and friends, and every
// process that is not a master, start without fastify, aedes and LevelDB. The agent command is
// defined in edge-agent/ (agent-command.ts), shared with the single binary `tributary-agent`; it
// loads the agent itself on first use.
const cloud = () => import('@tributary/cloud-core');

/** The long-running processes: master, worker, agent. Their settings are documented schemas in shared/src/config. */
export function registerCluster(program: Command): void {
  program
    .command('master')
    .description('run the control plane: embedded MQTT broker (or --broker), registry, applications, REST API')
    .option('--data <dir>', 'where the registry and applications are kept (LevelDB); default .data/master')
    .option('--mqtt-port <port>', 'embedded broker port on 127.0.0.1; default 1883')
    .option('--http-port <port>', 'REST API port; default 8080')
    .option('--http-host <host>', 'REST API interface; default 127.0.0.1')
    .option('--broker <url>', 'use an external MQTT broker instead of the embedded one, e.g. mqtt://10.0.0.5:1883')
    .option('--public-url <url>', 'URL nodes use to reach this master over HTTP (bundles); default http://<http-host>:<http-port>')
    .option('--checkpoint-interval-ms <ms>', 'exactly-once: checkpoint every <ms> of event time; 0 = off; default 1000')
    .option('--broker-max-packet-kb <kb>', 'embedded broker: largest MQTT packet, KiB (bigger: connection closed); 0 = no limit; default 32768')
    .option('--broker-max-publish-rate <n>', 'embedded broker: PUBLISHes/s per client (burst 2x; over it: dropped); 0 = no limit; default 20000')
    .option('--broker-max-connections <n>', 'embedded broker: concurrent clients (more: CONNACK 3); 0 = no limit; default 20000')
    .option('--metrics-auth', '/metrics requires an admin token too (default: open to scrapers)')
    .option('--agent-dir <dir>', 'agent binaries served to devices (GET /agent/<version>/linux-<arch>); default dist/ (npm run build:agent)')
    .option('--mqtts-port <port>', 'embedded broker: MQTT over TLS port (client certificates from enrolment); 0 = a free one; default 8883')
    .option('--mqtt-host <host>', 'embedded broker: interface of the TLS listener; default 127.0.0.1')
    .addOption(new Option('--tls-name <name>', 'a DNS name or address for the broker\'s certificate (repeatable; localhost, loopback and the host name are always in)').argParser(collect))
    .option('--allow-plain-mqtt', 'let the plain MQTT listener bind --mqtt-host too (default: loopback only)')
    .option('--allow-anonymous-mqtt <on|off>', 'development only: the embedded broker admits clients without credentials; default off')
    .option('--cert-lifetime-days <days>', 'lifetime of the client certificates enrolment issues; default 30')
    .option('--plan-heap-mb <mb>', 'heap cap of the thread that plans each submitted bundle, MB; default 128')
    .option('--plan-timeout-ms <ms>', 'time limit for planning a submitted bundle; default 10000')
    .addOption(config())
    .addOption(logLevel())
    .action(async (o) => {
      await (await cloud()).runMaster(sources(o, {
        metricsAuth: o.metricsAuth,
        data: o.data, mqttPort: o.mqttPort, httpPort: o.httpPort, httpHost: o.httpHost, broker: o.broker, publicUrl: o.publicUrl,
        checkpointIntervalMs: o.checkpointIntervalMs, logLevel: o.logLevel,
        brokerMaxPacketKb: o.brokerMaxPacketKb, brokerMaxPublishRate: o.brokerMaxPublishRate, brokerMaxConnections: o.brokerMaxConnections, agentDir: o.agentDir,
        mqttsPort: o.mqttsPort, mqttHost: o.mqttHost, tlsNames: o.tlsName, allowPlainMqtt: o.allowPlainMqtt, allowAnonymousMqtt: o.allowAnonymousMqtt,
        certLifetimeDays: o.certLifetimeDays,
        planHeapMb: o.planHeapMb, planTimeoutMs: o.planTimeoutMs,
      }));
    });

  withMasterOptions(withReplayOptions(program.command('worker'))
    .description('run a cloud worker that hosts tasks'))
    .option('--id <id>', 'node id; default worker-<hostname>-<pid>')
    .option('--slots <n>', 'how many tasks this worker accepts; default 8')
    .addOption(new Option('--label <key=value>', 'a label for placement (repeatable)').argParser(collect))
    .option('--data <dir>', 'bundle cache and replay logs; default .data/worker')
    .option('--standby <on|off>', 'hold running applications not hosted here loaded, for fast takeovers (their graph inline, a ~20 MB thread each with --isolation thread); default on')
    .addOption(config())
    .addOption(logLevel())
    .action(async (o) => {
      await (await cloud()).runWorker(sources(o, { master: o.master, enrolToken: o.token, brokerTls: o.brokerTls, id: o.id, slots: o.slots, labels: o.label, data: o.data, standby: o.standby, ...replayFlags(o), logLevel: o.logLevel }));
    });

  agentCommand(program.command('agent'));
}
