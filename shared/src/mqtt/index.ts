export { MqttTransport, connectMqttTransport } from './mqtt-transport.js';
