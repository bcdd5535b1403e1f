/** Issue 15: a WebSocket `$connect` passes on exactly one key, never on one of two. */
import { describe, expect, it } from 'vitest';
import { presentedKey, type ConnectEvent } from '../../functions/ws/connect.js';

const base = { requestContext: { connectionId: 'c1' } };

describe('$connect key', () => {
  it.each<[string, ConnectEvent, string | undefined]>([
    ['query once', { ...base, queryStringParameters: { apiKey: 'k' }, multiValueQueryStringParameters: { apiKey: ['k'] } }, 'k'],
    ['header once', { ...base, headers: { 'X-Api-Key': 'k' }, multiValueHeaders: { 'X-Api-Key': ['k'] } }, 'k'],
    ['query and the same header', { ...base, queryStringParameters: { apiKey: 'k' }, headers: { 'x-api-key': 'k' } }, 'k'],
    ['query twice, last right', { ...base, queryStringParameters: { apiKey: 'k' }, multiValueQueryStringParameters: { apiKey: ['wrong', 'k'] } }, undefined],
    ['header twice', { ...base, headers: { 'x-api-key': 'k' }, multiValueHeaders: { 'x-api-key': ['wrong', 'k'] } }, undefined],
    ['header joined with ","', { ...base, headers: { 'x-api-key': 'wrong,k' } }, undefined],
    ['query and another header', { ...base, queryStringParameters: { apiKey: 'wrong' }, headers: { 'x-api-key': 'k' } }, undefined],
    ['none', { ...base }, undefined],
  ])('%s', (_name, event, expected) => {
    expect(presentedKey(event)).toBe(expected);
  });
});
