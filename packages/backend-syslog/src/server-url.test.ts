import { describe, expect, it } from 'vitest';
import { parseSyslogServer } from './server-url';

describe('parseSyslogServer', () => {
  it('parses udp, tcp and tls URLs', () => {
    expect(parseSyslogServer('udp://logs.example.com:514')).toEqual({ protocol: 'udp', host: 'logs.example.com', port: 514 });
    expect(parseSyslogServer('tcp://10.0.0.5:601')).toEqual({ protocol: 'tcp', host: '10.0.0.5', port: 601 });
    expect(parseSyslogServer('TLS://[::1]:6514')).toEqual({ protocol: 'tls', host: '::1', port: 6514 });
  });

  it('uses default ports and treats a bare host as UDP', () => {
    expect(parseSyslogServer('tcp://h')).toMatchObject({ port: 601 });
    expect(parseSyslogServer('tls://h')).toMatchObject({ port: 6514 });
    expect(parseSyslogServer('h:1514')).toEqual({ protocol: 'udp', host: 'h', port: 1514 });
    expect(parseSyslogServer('h')).toEqual({ protocol: 'udp', host: 'h', port: 514 });
  });

  it('rejects other schemes, bad ports and junk as config errors naming the value', () => {
    for (const bad of ['http://h:80', 'tcp://h:0', 'tcp://h:70000', 'tcp://', 'tcp://a b:1', '[zz]:1', '']) {
      expect(() => parseSyslogServer(bad), bad).toThrow(expect.objectContaining({ kind: 'config' }));
    }
    expect(() => parseSyslogServer('http://h:80')).toThrow(/"http:\/\/h:80"/);
  });
});
