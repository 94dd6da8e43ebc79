import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, ROOT, serveChainOverHttp } from "@triad/devkit";
import { deviceRegistryDomain, deviceTopic } from "@triad/sdk";
import { SqliteReadingStore } from "../src/store/index.ts";
import { connectDevice, newDevices, payload, registerAll, signed, tempDir, waitFor } from "./helpers.ts";

const { loadFixture } = networkHelpers;
const BIN = path.join(ROOT, "packages/gateway/bin/triad-gateway.js");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface Child {
  process: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<number | null>;
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [BIN, "run"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Child = { process: child, lines: [], stderr: [], exited: new Promise((r) => child.on("exit", (code) => r(code))) };
  let buffered = "";
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const l of lines) {
      try {
        out.lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr!.on("data", (d: Buffer) => out.stderr.push(d.toString("utf8")));
  return out;
}

describe("gateway process: nothing acknowledged is lost (SIGKILL under load, restart on the same database)", function () {
  this.timeout(180_000);

  it("every PUBACKed reading is in the database after kill -9 and restart; devices' resends complete the rest exactly once", async function () {
    const suite = await loadFixture(deployTriad);
    const [owner] = await ethers.getSigners();
    const devices = newDevices(8);
    await registerAll(suite.registry, owner, devices);
    const registry = await suite.registry.getAddress();
    const chainId = (await ethers.provider.getNetwork()).chainId;
    const domain = deviceRegistryDomain(chainId, registry);
    const rpc = await serveChainOverHttp();
    const dir = tempDir();
    const dbFile = path.join(dir, "gateway.sqlite");
    const mqttPort = await freePort();
    const env = {
      TRIAD_GATEWAY_RPC_URL: rpc.url,
      TRIAD_GATEWAY_REGISTRY_ADDRESS: registry,
      TRIAD_GATEWAY_MQTT_PORT: String(mqttPort),
      TRIAD_GATEWAY_HTTP_PORT: "0",
      TRIAD_GATEWAY_DATABASE_URL: `sqlite:${dbFile}`,
      TRIAD_GATEWAY_REGISTRY_POLL_MS: "200",
    };
    const clients: MqttClient[] = [];
    let second: Child | undefined;
    try {
      const first = startChild(env);
      await waitFor(
        () => first.lines.some((l) => l.msg === "gateway started") || first.process.exitCode !== null,
        "the gateway to start",
        60_000,
      );
      expect(first.process.exitCode, first.stderr.join("")).to.equal(null);

      // More readings than one store transaction takes (2,000), and the kill is sent from the 200th PUBACK's callback
      // (not by polling), so it lands mid-stream however fast the gateway commits.
      const PER_DEVICE = 400;
      const KILL_AFTER = 200;
      const acked = new Set<string>();
      const sent: Promise<void>[] = [];
      const killFirst = () => {
        if (acked.size >= KILL_AFTER && first.process.exitCode === null && !first.process.killed) first.process.kill("SIGKILL");
      };
      for (const device of devices) {
        // Persistent sessions and automatic reconnects: unacknowledged QoS 1 publishes are resent after the restart.
        const c = await connectDevice(`mqtt://127.0.0.1:${mqttPort}`, {
          clientId: `dev-${device.address.slice(2, 12)}`,
          clean: false,
          reconnectPeriod: 200,
        });
        clients.push(c);
        const topic = deviceTopic(chainId, device.address, "readings");
        for (let seq = 1n; seq <= BigInt(PER_DEVICE); seq++) {
          const body = payload(signed(device, domain, seq));
          sent.push(
            c.publishAsync(topic, body, { qos: 1 }).then(() => {
              acked.add(`${device.address}/${seq}`);
              killFirst();
            }),
          );
        }
      }
      await waitFor(() => first.process.killed, `${KILL_AFTER} PUBACKs`, 60_000);
      expect(await first.exited).to.equal(null);
      const ackedAtKill = new Set(acked);
      const total = devices.length * PER_DEVICE;
      expect(ackedAtKill.size, "killed mid-stream").to.be.lessThan(total);

      // Before anything restarts: every acknowledged reading is in the file the killed process left.
      const afterKill = SqliteReadingStore.open(dbFile);
      const storedAtKill = new Set<string>();
      for (const d of devices)
        for (const r of await afterKill.readings({ device: d.address, limit: 1000 })) storedAtKill.add(`${d.address}/${r.seq}`);
      await afterKill.close();
      const lost = [...ackedAtKill].filter((k) => !storedAtKill.has(k));
      expect(lost, "acknowledged but not stored").to.deep.equal([]);

      second = startChild(env);
      await waitFor(
        () => second!.lines.some((l) => l.msg === "gateway started") || second!.process.exitCode !== null,
        "the restart",
        60_000,
      );
      await Promise.race([
        Promise.all(sent),
        new Promise((_, reject) => setTimeout(() => reject(new Error("resends did not finish")), 90_000)),
      ]);
      expect(acked.size).to.equal(total);
      second.process.kill("SIGTERM"); // graceful: flush and close
      expect(await second.exited, second.stderr.join("")).to.equal(0);

      const store = SqliteReadingStore.open(dbFile);
      try {
        for (const d of devices) {
          const rows = await store.readings({ device: d.address, limit: 1000 });
          expect(
            rows.map((r) => r.seq),
            d.address,
          ).to.deep.equal(Array.from({ length: PER_DEVICE }, (_, i) => BigInt(i + 1)));
        }
        expect(await store.counts()).to.deep.equal({ readings: total, devices: devices.length });
      } finally {
        await store.close();
      }
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      second?.process.kill("SIGKILL");
      await rpc.close();
    }
  });
});
