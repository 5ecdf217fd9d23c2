/**
 * driftless's own temporary containers (manifest scans, image file reads, the event log's liveness
 * check) are never fleet hosts, even when their image carries the very labels a fleet is selected
 * by: the engine hands an image's labels down to every container made from it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TMP_LABEL, tmpLabels } from '../../probes/tmp-label.ts';
import { isFleetHost } from '../../providers/docker/provider.ts';

const selector = { 'driftless.fleet': 'cattle', 'driftless.lab.role': 'host' };
/** An image built with the fleet's labels in its Dockerfile (LABEL driftless.fleet=cattle ...). */
const imageLabels = { ...selector, 'org.opencontainers.image.title': 'web' };
/** What the engine gives the container: the image's labels, overridden by those asked for. */
const engineMerge = (image: Record<string, string>, asked: Record<string, string>) => ({ ...image, ...asked });

test('a host carrying the selector labels is listed', () => {
  assert.equal(isFleetHost({ ...selector, 'driftless.port.ssh': '2201' }, selector), true);
  assert.equal(isFleetHost({ 'driftless.fleet': 'snowflake', 'driftless.lab.role': 'host' }, selector), false);
});

test('a temporary container from an image labelled like the fleet: its inherited labels are cleared, and the filter excludes it', () => {
  const labels = engineMerge(imageLabels, tmpLabels(imageLabels, 'event-log-check'));
  assert.deepEqual(labels, {
    'driftless.fleet': '',
    'driftless.lab.role': '',
    'org.opencontainers.image.title': '',
    [TMP_LABEL.key]: 'event-log-check',
  });
  assert.equal(isFleetHost(labels, selector), false);
});

test('even one that kept the fleet labels (made by an older driftless) is excluded by its temporary label', () => {
  assert.equal(isFleetHost(engineMerge(imageLabels, { [TMP_LABEL.key]: TMP_LABEL.value }), selector), false);
});

test('an image without labels gives only the temporary label', () => {
  assert.deepEqual(tmpLabels(null), { [TMP_LABEL.key]: TMP_LABEL.value });
});
