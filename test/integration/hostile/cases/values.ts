/** #13 item 5: values the database would refuse (a 500 before) are refused first, naming the field. */
import type { HostileCase } from '../support.js';

const item5 = '#13.5 values the database refuses are a 400 naming the field, not a 500';

export const VALUE_CASES: HostileCase[] = [
  { name: 'events: since=999999w', proves: item5, method: 'GET', path: '/api/v1/apps/target/events?since=999999w', status: 400, code: 'VALIDATION_ERROR', field: 'since' },
  { name: 'events: since in year 0000', proves: item5, method: 'GET', path: '/api/v1/events?since=0000-01-01T00:00:00Z', status: 400, code: 'VALIDATION_ERROR', field: 'since' },
  { name: 'metrics: timestamp 0000-01-01', proves: item5, method: 'POST', path: '/api/v1/apps/target/metrics', options: { body: { samples: [{ metric_type: 'rps', value: 1, timestamp: '0000-01-01T00:00:00Z' }] } }, status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].timestamp' },
  { name: 'metrics: instance sample older than its retention', proves: item5, method: 'POST', path: '/api/v1/apps/target/metrics', options: { body: { samples: [{ metric_type: 'rps', value: 1, aggregation_level: 'instance', timestamp: '2001-01-01T00:00:00Z' }] } }, status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].timestamp' },
];
