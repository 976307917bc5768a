/**
 * Every input that ever broke a fuzz property, kept in test/fixtures/fuzz-regressions (written by
 * the fuzzer when it finds one), checked again against its target: each must pass now.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadVectors, replay } from './runner.js';
import { targetByName } from './targets.js';

describe('fuzz regression vectors', () => {
  const vectors = loadVectors();
  it('the vector files parse and name known targets', () => {
    for (const { file, vector } of vectors) {
      assert.ok(targetByName(vector.target), `${file}: unknown target ${vector.target}`);
      assert.match(vector.input, /^([0-9a-f]{2})*$/, file);
    }
  });
  for (const { file, vector } of vectors) {
    it(`${file}: ${vector.property} (${vector.message.split('\n')[0]?.slice(0, 80) ?? ''})`, async () => {
      const target = targetByName(vector.target);
      assert.ok(target);
      await replay(target, vector);
    });
  }
});
