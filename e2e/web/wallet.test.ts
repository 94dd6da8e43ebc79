import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, Signature, TypedDataEncoder, Wallet, hashMessage, parseEther, recoverAddress } from "ethers";
import type { Page } from "playwright-core";
import { serveChainOverHttp } from "@triad/devkit";
import { launchBrowser, type TestBrowser } from "./lib/browser.ts";
import { HARDHAT_KEYS, installTestWallet } from "./lib/wallet.ts";

/**
 * The browser tests' own instruments, in Debian's Chromium against the in-process Hardhat chain served over HTTP: the
 * injected EIP-1193 test wallet is found by EIP-6963 and as `window.ethereum`, connects, switches from a wrong chain
 * (emitting `chainChanged`), signs messages, EIP-712 data and transactions with its test key (checked here by
 * recovering the signer and reading the receipt from the node), forwards reads to the node and refuses as a user
 * would. The page is a blank one served on 127.0.0.1: what is tested is the wallet, not the app.
 */

const TYPED = {
  domain: { name: "Triad Test", version: "1", chainId: 31337, verifyingContract: "0x00000000000000000000000000000000000000aa" },
  types: {
    EIP712Domain: [
      { name: "name", type: "string" },
      { name: "version", type: "string" },
      { name: "chainId", type: "uint256" },
      { name: "verifyingContract", type: "address" },
    ],
    Note: [
      { name: "text", type: "string" },
      { name: "amount", type: "uint256" },
    ],
  },
  primaryType: "Note",
  message: { text: "hello", amount: "42" },
};

describe("web e2e instruments: the injected EIP-1193 test wallet in Chromium", function () {
  let chain: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let server: Server;
  let pageUrl: string;
  let browser: TestBrowser;

  before(async function () {
    chain = await serveChainOverHttp();
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><title>wallet test</title><body>wallet test</body>");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchBrowser();
  });

  after(async function () {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await chain?.close();
  });

  async function freshPage(chainId?: number): Promise<{ page: Page; wallet: Awaited<ReturnType<typeof installTestWallet>> }> {
    const page = await browser.context.newPage();
    const wallet = await installTestWallet(page, { rpcUrl: chain.url, privateKey: HARDHAT_KEYS[1]!, chainId });
    await page.goto(pageUrl);
    return { page, wallet };
  }

  it("is announced by EIP-6963 and is window.ethereum; connects, switches chain with events, forwards reads", async function () {
    const { page, wallet } = await freshPage(1);
    const seen = await page.evaluate(async () => {
      const w = window as unknown as { ethereum: { request(a: { method: string; params?: unknown[] }): Promise<unknown> } };
      const announced: { info: { name: string; rdns: string }; provider: unknown }[] = [];
      window.addEventListener("eip6963:announceProvider", (e) => announced.push((e as CustomEvent).detail));
      window.dispatchEvent(new Event("eip6963:requestProvider"));
      const events: [string, unknown][] = [];
      const p = w.ethereum as unknown as { on(e: string, l: (d: unknown) => void): void };
      p.on("chainChanged", (d) => events.push(["chainChanged", d]));
      p.on("accountsChanged", (d) => events.push(["accountsChanged", d]));
      const before = await w.ethereum.request({ method: "eth_accounts" });
      const accounts = await w.ethereum.request({ method: "eth_requestAccounts" });
      const wrongChain = await w.ethereum.request({ method: "eth_chainId" });
      let unknownChain = 0;
      try {
        await w.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: "0x5" }] });
      } catch (e) {
        unknownChain = (e as { code: number }).code;
      }
      await w.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: "0x7a69" }] });
      const chainId = await w.ethereum.request({ method: "eth_chainId" });
      const block = await w.ethereum.request({ method: "eth_blockNumber" });
      return {
        names: announced.map((a) => a.info.name),
        same: announced[0]?.provider === w.ethereum,
        before,
        accounts,
        wrongChain,
        unknownChain,
        chainId,
        block,
        events,
      };
    });
    expect(seen.names).to.deep.equal(["Triad Test Wallet"]);
    expect(seen.same).to.equal(true);
    expect(seen.before).to.deep.equal([]);
    expect(seen.accounts).to.deep.equal([wallet.address]);
    expect(seen.wrongChain).to.equal("0x1");
    expect(seen.unknownChain).to.equal(4902);
    expect(seen.chainId).to.equal("0x7a69");
    expect(BigInt(seen.block as string)).to.equal(BigInt(await new JsonRpcProvider(chain.url).getBlockNumber()));
    expect(seen.events).to.deep.equal([
      ["accountsChanged", [wallet.address]],
      ["chainChanged", "0x7a69"],
    ]);
    expect(wallet.chainId).to.equal(31337);
    expect(wallet.calls("wallet_switchEthereumChain")).to.have.length(2);
    await page.close();
  });

  it("signs messages, EIP-712 data and transactions with its test key; refuses as a user would", async function () {
    const { page, wallet } = await freshPage();
    const node = new JsonRpcProvider(chain.url);
    const to = Wallet.createRandom().address;
    wallet.rejectNext();
    const out = await page.evaluate(
      async ({ typed, to, value }) => {
        const eth = (window as unknown as { ethereum: { request(a: { method: string; params?: unknown[] }): Promise<unknown> } }).ethereum;
        const [from] = (await eth.request({ method: "eth_requestAccounts" })) as string[];
        let refused: { code: number; message: string } | undefined;
        try {
          await eth.request({ method: "personal_sign", params: ["0x68656c6c6f", from] });
        } catch (e) {
          refused = { code: (e as { code: number }).code, message: (e as Error).message };
        }
        const message = await eth.request({ method: "personal_sign", params: ["0x68656c6c6f", from] });
        const typedSig = await eth.request({ method: "eth_signTypedData_v4", params: [from, JSON.stringify(typed)] });
        const hash = await eth.request({ method: "eth_sendTransaction", params: [{ from, to, value }] });
        let nodeError: { code: number; message: string } | undefined;
        try {
          await eth.request({ method: "eth_getBalance", params: ["not an address", "latest"] });
        } catch (e) {
          nodeError = { code: (e as { code: number }).code, message: (e as Error).message };
        }
        return { from, refused, message, typedSig, hash, nodeError };
      },
      { typed: TYPED, to, value: "0x" + parseEther("1.5").toString(16) },
    );
    expect(out.from).to.equal(wallet.address);
    expect(out.refused).to.deep.equal({ code: 4001, message: "User rejected the request." });
    expect(recoverAddress(hashMessage("hello"), Signature.from(out.message as string))).to.equal(wallet.address);
    const types = { Note: TYPED.types.Note };
    expect(recoverAddress(TypedDataEncoder.hash(TYPED.domain, types, TYPED.message), out.typedSig as string)).to.equal(wallet.address);
    const receipt = await node.waitForTransaction(out.hash as string);
    expect(receipt?.status).to.equal(1);
    expect(receipt?.from).to.equal(wallet.address);
    expect(await node.getBalance(to)).to.equal(parseEther("1.5"));
    // the node's own errors reach the page as EIP-1193 errors (code and message)
    expect(out.nodeError?.code).to.be.a("number");
    expect(out.nodeError?.message).to.match(/\S/);
    expect(wallet.requests.filter((r) => r.error).map((r) => r.method)).to.deep.equal(["personal_sign", "eth_getBalance"]);
    await page.close();
  });
});
