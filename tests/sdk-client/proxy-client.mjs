#!/usr/bin/env node
// The official TypeScript MCP SDK client talking to a server through MCP
// Passport's proxy: no OAuth of its own, only the client key the broker
// gave it. Usage: proxy-client.mjs <proxy-url> <client-key>
// Prints {"tools":[...],"whoami":{...},"contentType":"..."} on stdout.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error("usage: proxy-client.mjs <proxy-url> <client-key>");
  process.exit(2);
}
let contentType = "";
const fetchWithProbe = async (input, init) => {
  const response = await fetch(input, init);
  if ((init?.method ?? "GET") === "POST") {
    contentType = response.headers.get("content-type") ?? contentType;
  }
  return response;
};
try {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
    fetch: fetchWithProbe,
  });
  const client = new Client({ name: "sdk-through-proxy", version: "1.0.0" });
  await client.connect(transport);
  const tools = (await client.listTools()).tools.map((t) => t.name);
  const result = await client.callTool({ name: "whoami", arguments: {} });
  const whoami = JSON.parse(result.content.find((c) => c.type === "text").text);
  console.log(JSON.stringify({ tools, whoami, contentType }));
  await client.close();
  process.exit(0);
} catch (e) {
  console.error(`proxy client failed: ${e?.message ?? e}`);
  process.exit(1);
}
