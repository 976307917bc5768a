// Micro-benchmark of the policy hot path: one session, per-destination checks as a UDP relay
// would do per datagram. Run: npx tsx bench/rules-eval.ts
import { compilePolicy } from '../src/rules/index.js';

const policy = compilePolicy({
  rules: [
    { name: 'no-private', action: 'deny', destination: 'private' },
    {
      name: 'blocked',
      action: 'deny',
      destination: ['*.ads.example', '*.tracker.example', '203.0.114.0/24'],
    },
    { name: 'staff', action: 'allow', client: '10.0.0.0/8', user: '*' },
    { name: 'dns-ntp', action: 'allow', command: 'udp', port: [53, 123] },
    { name: 'web', action: 'allow', port: [80, 443, '8000-8999'] },
  ],
  default: 'deny',
});

function bench(label: string, n: number, fn: (i: number) => unknown): void {
  for (let i = 0; i < 10_000; i++) fn(i); // warm up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t) / n;
  console.log(`${label.padEnd(48)} ${ns.toFixed(0).padStart(6)} ns/op`);
}

const session = policy.session({ client: '192.0.2.7', command: 'udp', dialect: 'socks5' });
const hosts = ['8.8.8.8', '1.1.1.1', '9.9.9.9', '93.184.216.34'];
bench('session(): facts applied once', 200_000, () =>
  policy.session({ client: '192.0.2.7', command: 'udp', dialect: 'socks5' }),
);
bench('checkDestination(IPv4 text, port) allowed', 500_000, (i) =>
  session.checkDestination(hosts[i & 3]!, 53),
);
bench('checkDestination(IPv4 text) denied by private', 500_000, () =>
  session.checkDestination('10.1.2.3', 53),
);
bench('checkDestination(IPv6 text)', 500_000, () =>
  session.checkDestination('2606:4700:4700::1111', 53),
);
bench('checkDestination(odd spelling 0x7f.1)', 500_000, () =>
  session.checkDestination('0x7f.1', 53),
);
bench('checkDestination(name) -> NameCheck', 500_000, () =>
  session.checkDestination('www.example.com', 53),
);
const ip = policy
  .session({ client: '192.0.2.7', command: 'udp', dialect: 'socks5' })
  .checkDestination('8.8.8.8', 53);
if (ip.kind === 'ip')
  bench('checkAddress(parsed IpAddress, port)', 1_000_000, () => session.checkAddress(ip.ip, 53));
bench('evaluate() one-shot, IPv4 destination', 200_000, () =>
  policy.evaluate({
    client: '192.0.2.7',
    command: 'connect',
    dialect: 'socks5',
    destination: { host: '8.8.8.8', port: 443 },
  }),
);
