// Rendered nginx configs checked by a real `nginx -t`, for many inputs, plus the properties
// the design requires of every rendering.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NginxConfigInput, renderNginxConfig } from "../../components/nginxConfig";

/** nginx's modules directory on this machine (no-reload mode loads the Lua module from it). */
function modulesDir(): string {
    const version = execFileSync("nginx", ["-V"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const all = version + execFileSync("sh", ["-c", "nginx -V 2>&1"], { encoding: "utf8" });
    return /--modules-path=(\S+)/.exec(all)?.[1] ?? "/usr/lib/nginx/modules";
}

function nginxTest(text: string): { ok: boolean; output: string } {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "nginx-t-"));
    fs.mkdirSync(path.join(prefix, "conf"));
    fs.mkdirSync(path.join(prefix, "logs"));
    fs.mkdirSync(path.join(prefix, "temp"));
    fs.symlinkSync(modulesDir(), path.join(prefix, "modules"));
    const conf = path.join(prefix, "conf", "nginx.conf");
    fs.writeFileSync(conf, text.replaceAll("/PREFIX", prefix));
    try {
        const output = execFileSync(
            "nginx",
            ["-t", "-p", `${prefix}/`, "-e", path.join(prefix, "logs", "error.log"), "-c", conf],
            {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
            },
        );
        return { ok: true, output };
    } catch (err) {
        const e = err as { stderr?: string; stdout?: string };
        return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    } finally {
        fs.rmSync(prefix, { recursive: true, force: true });
    }
}

function hosts(count: number, base: number) {
    return Array.from({ length: count }, (_, i) => ({ address: `127.0.0.${(i % 250) + 1}`, port: base + i }));
}

const BASE: NginxConfigInput = {
    prefix: "/PREFIX",
    switchMode: "reload",
    liveColor: "blue",
    pools: { blue: hosts(2, 9101), green: hosts(2, 9201) },
    publicAddress: "127.0.0.1",
    publicPort: 8080,
    internalAddress: "127.0.0.1",
    internalPort: 8081,
    workerShutdownTimeoutSeconds: 35,
};

describe("nginx config template", function () {
    before(function () {
        try {
            execFileSync("nginx", ["-v"], { stdio: "ignore" });
        } catch {
            throw new Error("nginx is not installed: apt-get install nginx (.ci/run does this)");
        }
    });

    const cases: [string, NginxConfigInput][] = [
        ["blue live, 2+2 hosts", BASE],
        ["green live", { ...BASE, liveColor: "green" }],
        ["idle pool scaled to 0", { ...BASE, pools: { blue: hosts(2, 9101), green: [] } }],
        ["1 host per pool", { ...BASE, pools: { blue: hosts(1, 9101), green: hosts(1, 9201) } }],
        ["50 hosts per pool", { ...BASE, pools: { blue: hosts(50, 10000), green: hosts(50, 11000) } }],
        ["public on all addresses", { ...BASE, publicAddress: "0.0.0.0", publicPort: 65535, internalPort: 1024 }],
        ["one worker, short shutdown", { ...BASE, workerProcesses: 1, workerShutdownTimeoutSeconds: 1 }],
        ["no-reload mode", { ...BASE, switchMode: "no-reload" }],
        ["per-client limits", { ...BASE, clientConnectionLimit: 256, clientRequestRate: 100 }],
        ["per-client limits, no-reload", { ...BASE, switchMode: "no-reload", clientConnectionLimit: 1 }],
        ["host names", { ...BASE, hostNames: ["shop.example.test", "www.shop.example.test"] }],
        ["host names, no-reload", { ...BASE, switchMode: "no-reload", hostNames: ["shop.example.test"] }],
        [
            "no-reload mode, idle pool scaled to 0",
            { ...BASE, switchMode: "no-reload", pools: { blue: hosts(2, 9101), green: [] } },
        ],
        [
            "no-reload mode, 50 hosts per pool",
            { ...BASE, switchMode: "no-reload", pools: { blue: hosts(50, 10000), green: hosts(50, 11000) } },
        ],
    ];
    for (const [name, input] of cases) {
        it(`passes nginx -t: ${name}`, () => {
            const { text } = renderNginxConfig(input);
            const result = nginxTest(text);
            assert.ok(result.ok, `nginx -t failed for ${name}:\n${result.output}`);
        });
    }

    it("nginx -t really rejects a broken rendering (the check can fail)", () => {
        const { text } = renderNginxConfig(BASE);
        const result = nginxTest(text.replace("proxy_pass http://pool_blue;", "proxy_pass http://pool_blue"));
        assert.equal(result.ok, false);
    });

    it("the public listener sends everything to the live pool and overwrites X-Deploy-Color", () => {
        const { text } = renderNginxConfig({ ...BASE, liveColor: "green" });
        const publicServer = text.slice(text.indexOf("# Public listener"), text.indexOf("# Internal listener"));
        assert.match(publicServer, /set \$deploy_color green;/);
        assert.match(publicServer, /proxy_pass http:\/\/pool_green;/);
        assert.doesNotMatch(publicServer, /pool_blue|\$http_x_deploy_color/, "no client input selects a pool");
        assert.match(text, /proxy_set_header X-Deploy-Color \$deploy_color;/);
        assert.match(
            publicServer,
            /location ~\* \^\/health\/ \{\s*return 404;/,
            "drain and other operational paths are not public",
        );
    });

    it("keeps upstream keep-alive: Connection is upgrade only for upgrades, never retries POSTs", () => {
        const { text } = renderNginxConfig(BASE);
        assert.match(text, /map \$http_upgrade \$connection_upgrade \{\s*default upgrade;\s*""\s*"";/);
        assert.match(text, /proxy_set_header Connection \$connection_upgrade;/);
        assert.match(text, /keepalive 32;/);
        assert.doesNotMatch(text, /non_idempotent/);
        assert.match(text, /server_tokens off;/);
        assert.match(text, /worker_shutdown_timeout 35s;/);
    });

    it("status pages listed in privatePaths are not public", () => {
        const { text } = renderNginxConfig({ ...BASE, privatePaths: ["/status", "/metrics", "/status"] });
        const publicServer = text.slice(text.indexOf("# Public listener"), text.indexOf("# Internal listener"));
        assert.match(publicServer, /location ~\* "\^\/status\(\/\|\$\)" \{\s*return 404;/);
        assert.match(publicServer, /location ~\* "\^\/metrics\(\/\|\$\)" \{\s*return 404;/);
        assert.ok(nginxTest(text).ok, "duplicates are dropped, so nginx -t passes");
    });

    it("the internal listener is loopback only and reaches each pool by path", () => {
        const { text } = renderNginxConfig(BASE);
        const internal = text.slice(text.indexOf("# Internal listener"));
        assert.match(internal, /listen 127\.0\.0\.1:8081;/);
        assert.match(internal, /allow 127\.0\.0\.0\/8;\s*deny all;/);
        assert.match(internal, /location \/green\/ \{[^}]*proxy_pass http:\/\/pool_green\/;/);
    });

    it("the config id changes with the live colour and with the hosts, and is served for reload checks", () => {
        const a = renderNginxConfig(BASE);
        const b = renderNginxConfig({ ...BASE, liveColor: "green" });
        const c = renderNginxConfig({ ...BASE, pools: { blue: hosts(3, 9101), green: hosts(2, 9201) } });
        assert.notEqual(a.configId, b.configId);
        assert.notEqual(a.configId, c.configId);
        assert.equal(renderNginxConfig(BASE).configId, a.configId, "same input, same id");
        assert.match(a.text, new RegExp(`return 200 "${a.configId}";`));
    });

    it("in no-reload mode the config does not depend on the live colour (a switch changes no config)", () => {
        const blue = renderNginxConfig({ ...BASE, switchMode: "no-reload", liveColor: "blue" });
        const green = renderNginxConfig({ ...BASE, switchMode: "no-reload", liveColor: "green" });
        assert.equal(blue.text, green.text);
        assert.equal(blue.configId, green.configId);
    });

    it("in no-reload mode the colour comes from shared memory, set only on the internal listener", () => {
        const { text } = renderNginxConfig({ ...BASE, switchMode: "no-reload" });
        const publicServer = text.slice(text.indexOf("# Public listener"), text.indexOf("# Internal listener"));
        const internal = text.slice(text.indexOf("# Internal listener"));
        assert.match(
            publicServer,
            /set_by_lua_block \$deploy_color \{ return require\("bluegreen_route"\)\.color\(\) \}/,
            "the live colour, or a canary's for its share of clients (test/template/canary.test.ts)",
        );
        assert.match(publicServer, /proxy_pass http:\/\/pool_\$deploy_color;/);
        assert.doesNotMatch(
            publicServer,
            /content_by_lua|\/bluegreen\/live|\$http_/,
            "the public listener cannot set the colour",
        );
        assert.match(
            internal,
            /location = \/bluegreen\/live \{[\s\S]*?require\("bluegreen_control"\)\.take\(pools,/,
            "changing the colour goes through the control check",
        );
        assert.match(
            internal,
            /location = \/bluegreen\/maintenance \{[\s\S]*?require\("bluegreen_control"\)\.take\(/,
            "so does maintenance",
        );
        const check = text.slice(text.indexOf("function control.take"), text.indexOf("package.loaded"));
        assert.match(check, /headers\["x-bluegreen-token"\] ~= token/, "the control check needs the control token");
        assert.match(
            check,
            /ngx\.shared\.bluegreen:set\("control-token", next_token\)/,
            "each token works once: a change replaces it",
        );
        assert.match(
            internal,
            /local pools = \{ \["blue"\] = true, \["green"\] = true, +\}/,
            "only pools of this config can go live",
        );
        assert.match(text, /io\.open\("\/PREFIX\/conf\/" \.\. name, "r"\)/);
        assert.match(text, /local color = first_line\("live-color"\)/, "the colour survives restarts and reloads");
    });

    it("names the workers' user only where the master runs as root (workerUser), and passes nginx -t with it", () => {
        const plain = renderNginxConfig(BASE);
        assert.doesNotMatch(plain.text, /^\s*user\b/m, "a master that is not root runs its workers as itself");
        const root = renderNginxConfig({ ...BASE, workerUser: "bluegreen-nginx" });
        assert.match(root.text, /^user bluegreen-nginx bluegreen-nginx;$/m);
        assert.notEqual(root.configId, plain.configId, "a new workers' user is a new config (a reload)");
        // Checked by nginx only where it would switch users: as root, for a user that exists
        // (lib.sh's system_user makes it, as the switch does).
        if (process.getuid?.() === 0) {
            const lib = fs.readFileSync(path.join(__dirname, "..", "..", "templates", "scripts", "lib.sh"), "utf8");
            execFileSync("bash", ["-c", `${lib}\nsystem_user bluegreen-nginx`, "lib.sh"], { stdio: "inherit" });
        }
        const result = nginxTest(root.text);
        assert.ok(result.ok, `nginx -t failed:\n${result.output}`);
    });

    it("without host names: no server_name, and one config id whether they are unset or empty", () => {
        const without = renderNginxConfig(BASE);
        assert.equal(renderNginxConfig({ ...BASE, hostNames: [] }).configId, without.configId);
        assert.doesNotMatch(without.text, /server_name|421/);
        const named = renderNginxConfig({ ...BASE, hostNames: ["shop.example.test"] });
        assert.notEqual(named.configId, without.configId);
        assert.match(named.text, /server_name shop\.example\.test;/);
    });

    it("refuses to render a live pool without hosts", () => {
        assert.throws(
            () => renderNginxConfig({ ...BASE, pools: { blue: [], green: hosts(2, 9201) } }),
            /the live pool blue has no hosts/,
        );
    });
});
