import { expect } from "chai";
import path from "node:path";
import { AI4I_SCHEMA } from "@triad/sdk";
import { AI4I_VALUE_RANGES, CONFIG_OPTIONS, CONFIG_VARIABLES, ConfigError, configHelpText, parseConfig } from "../src/config.ts";

const RPC = { TRIAD_GATEWAY_RPC_URL: "http://127.0.0.1:8545" };

function problems(env: Record<string, string>, flags: Record<string, string> = {}): string[] {
  try {
    parseConfig(env, flags);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("gateway configuration", function () {
  it("defaults: embedded broker and HTTP on 127.0.0.1, SQLite file, 300 s skew, AI4I ranges", function () {
    const c = parseConfig(RPC, {}, "/srv");
    expect(c.mqtt).to.deep.equal({ mode: "embedded", host: "127.0.0.1", port: 1883 });
    expect(c.database).to.deep.equal({
      kind: "sqlite",
      file: path.resolve("/srv", "triad-gateway.sqlite"),
      url: "sqlite:triad-gateway.sqlite",
    });
    expect(c).to.include({ httpHost: "127.0.0.1", httpPort: 8080, maxClockSkewSeconds: 300, registry: undefined });
    expect(c.valueRanges[AI4I_SCHEMA]).to.equal(AI4I_VALUE_RANGES);
  });

  it("one line per bad field, all at once, naming the flag when a flag set it", function () {
    const lines = problems(
      {
        TRIAD_GATEWAY_MQTT_PORT: "70000",
        TRIAD_GATEWAY_DATABASE_URL: "mysql://x",
        TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: "soon",
        TRIAD_GATEWAY_REGISTRY_ADDRESS: "0x12",
      },
      { TRIAD_GATEWAY_HTTP_PORT: "-1" },
    );
    expect(lines).to.have.length(6);
    expect(lines.join("\n")).to.match(/^TRIAD_GATEWAY_RPC_URL: is required/m);
    expect(lines.join("\n")).to.match(/^TRIAD_GATEWAY_MQTT_PORT: must be between 0 and 65535 \(got "70000"\)/m);
    expect(lines.join("\n")).to.match(/^TRIAD_GATEWAY_DATABASE_URL: must be sqlite:<file> or postgres:/m);
    expect(lines.join("\n")).to.match(/^TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: must be a whole number/m);
    expect(lines.join("\n")).to.match(/^TRIAD_GATEWAY_REGISTRY_ADDRESS: must be a 0x-prefixed 20-byte address/m);
    expect(lines.join("\n")).to.match(/^--http-port \(TRIAD_GATEWAY_HTTP_PORT\): must be a whole number/m);
  });

  it("flags override the environment", function () {
    const c = parseConfig(
      { ...RPC, TRIAD_GATEWAY_HTTP_PORT: "1" },
      { TRIAD_GATEWAY_HTTP_PORT: "2", TRIAD_GATEWAY_DATABASE_URL: "sqlite:/tmp/x.db" },
    );
    expect(c.httpPort).to.equal(2);
    expect(c.database).to.include({ kind: "sqlite", file: "/tmp/x.db" });
  });

  it("an external broker: MQTT 5 shared subscription by default; 3.1.1 needs the share group off; embedded-only options refused", function () {
    const c = parseConfig({ ...RPC, TRIAD_GATEWAY_MQTT_URL: "mqtt://broker:1883", TRIAD_GATEWAY_CHAIN_ID: "31337" });
    expect(c.mqtt).to.deep.include({ mode: "external", protocolVersion: 5, shareGroup: "triad-gateway", clientId: "triad-gateway-31337" });
    expect(problems({ ...RPC, TRIAD_GATEWAY_MQTT_URL: "mqtt://b", TRIAD_GATEWAY_MQTT_PROTOCOL: "4" })).to.deep.equal([
      'TRIAD_GATEWAY_MQTT_SHARE_GROUP: shared subscriptions need MQTT 5: set it to "off" with TRIAD_GATEWAY_MQTT_PROTOCOL=4',
    ]);
    expect(problems({ ...RPC, TRIAD_GATEWAY_MQTT_URL: "mqtt://b", TRIAD_GATEWAY_MQTT_PORT: "1" })[0]).to.match(
      /^TRIAD_GATEWAY_MQTT_PORT: configures the embedded broker/,
    );
    expect(problems({ ...RPC, TRIAD_GATEWAY_MQTT_SHARE_GROUP: "g" })[0]).to.match(/needs TRIAD_GATEWAY_MQTT_URL/);
    const v4 = parseConfig({
      ...RPC,
      TRIAD_GATEWAY_MQTT_URL: "mqtt://b",
      TRIAD_GATEWAY_MQTT_PROTOCOL: "4",
      TRIAD_GATEWAY_MQTT_SHARE_GROUP: "off",
    });
    expect(v4.mqtt).to.deep.include({ protocolVersion: 4, shareGroup: undefined });
  });

  it("postgres:// is accepted by the configuration (the store seam); sqlite needs a file", function () {
    expect(parseConfig({ ...RPC, TRIAD_GATEWAY_DATABASE_URL: "postgres://u:p@db/triad" }).database).to.deep.equal({
      kind: "postgres",
      url: "postgres://u:p@db/triad",
    });
    expect(problems({ ...RPC, TRIAD_GATEWAY_DATABASE_URL: "sqlite::memory:" })[0]).to.match(/needs a file/);
  });

  it("value ranges: JSON per schema, checked", function () {
    const ranges = JSON.stringify({
      "other/v1": [
        ["0", "10"],
        [-5, 5],
      ],
    });
    expect(parseConfig({ ...RPC, TRIAD_GATEWAY_VALUE_RANGES: ranges }).valueRanges["other/v1"]).to.deep.equal([
      [0n, 10n],
      [-5n, 5n],
    ]);
    expect(problems({ ...RPC, TRIAD_GATEWAY_VALUE_RANGES: "{" })[0]).to.match(/must be JSON/);
    expect(problems({ ...RPC, TRIAD_GATEWAY_VALUE_RANGES: '{"x":[["5","1"]]}' })[0]).to.match(/min > max/);
    expect(problems({ ...RPC, TRIAD_GATEWAY_VALUE_RANGES: JSON.stringify({ [AI4I_SCHEMA]: [["0", "1"]] }) })[0]).to.match(/give 6 ranges/);
  });

  it("--help lists every variable with its flag", function () {
    const help = configHelpText();
    for (const v of CONFIG_VARIABLES) {
      expect(help).to.include(v);
      expect(help).to.include(CONFIG_OPTIONS[v].flag);
    }
  });
});
