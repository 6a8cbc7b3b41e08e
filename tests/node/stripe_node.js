// stripe-node against the keybrake gateway. stripe-node builds URLs from host, port and
// protocol and always requests /v1/..., which the gateway routes to Stripe unprefixed.
// Environment: GATEWAY_PORT, VAULT_KEY (allowed: POST /v1/payment_intents), REVOKED_KEY.
// Prints one JSON line of what it observed.
const Stripe = require('stripe');

const client = (key) =>
  new Stripe(key, { host: '127.0.0.1', port: Number(process.env.GATEWAY_PORT), protocol: 'http' });

async function refusal(call) {
  try {
    await call();
  } catch (e) {
    return { type: e.type, status: e.statusCode, code: e.code, message: e.message };
  }
  return null;
}

(async () => {
  const seen = {};
  const pi = await client(process.env.VAULT_KEY).paymentIntents.create({ amount: 1000, currency: 'usd' });
  seen.created = { object: pi.object, amount: pi.amount };
  seen.not_allowed = await refusal(() => client(process.env.VAULT_KEY).customers.create({ email: 'a@b.c' }));
  seen.revoked = await refusal(() =>
    client(process.env.REVOKED_KEY).paymentIntents.create({ amount: 1000, currency: 'usd' }),
  );
  console.log(JSON.stringify(seen));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
