import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { ConsumerInfoSchema } from '../../gen/minitoolstream/egress_pb.js';
import { configuredConsumerHeadings, configuredConsumerRow } from './configured-consumer-row.js';
import { h, headedTable } from './dom.js';

/** Renders consumers given as proto JSON the way the consumers page does, for configured-consumer-row.test.ts. */
function renderConfiguredConsumers(consumers: JsonValue[], unsettledTrend: number[]): void {
  const rows = consumers.map((json) => configuredConsumerRow(fromJson(ConsumerInfoSchema, json), unsettledTrend));
  document.body.replaceChildren(headedTable('configured-consumers', configuredConsumerHeadings, h('tbody', {}, ...rows)));
}

Object.assign(globalThis, { renderConfiguredConsumers });
