export { MqttTransport, connectMqttTransport } from './mqtt-transport.js';
export {
  connectMqttClient,
  createMqttClient,
  endMqttClient,
  firstConnack,
  type EndMqttClientOptions,
  type MqttClientOptions,
  type MqttTlsOptions,
} from './mqtt-client.js';
