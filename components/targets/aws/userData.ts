// User-data of the aws target's instances (templates/cloud-init/host.yaml.hbs): pure, so tests
// render exactly what an instance boots with. It installs the root helper
// (templates/root/bluegreen-root.sh), the only command sudo lets the app user run as root.
import { readTemplate, render } from "../../templates";

/** Where cloud-init installs the root helper; the sudoers line names this path only. */
export const ROOT_HELPER_PATH = "/usr/local/sbin/bluegreen-root";

export interface UserDataArgs {
    /** The app user: the program logs in as it, the app and nginx run as it. */
    readonly user: string;
    readonly publicKey: string;
    readonly remoteDir: string;
}

/** TEXT as the body of a YAML block scalar six spaces deep (empty lines stay empty). */
function indented(text: string): string {
    return text
        .replace(/\n$/, "")
        .split("\n")
        .map((line) => (line ? `      ${line}` : ""))
        .join("\n");
}

/** The nginx host's user-data (`unitText` absent), or a pool host's with its app unit. */
export function userData(role: string, args: UserDataArgs, nginx: boolean, unitText?: string): string {
    return render("cloud-init/host.yaml.hbs", {
        role,
        nginx,
        user: args.user,
        publicKey: args.publicKey,
        remoteDir: args.remoteDir,
        rootHelperPath: ROOT_HELPER_PATH,
        rootHelper: indented(readTemplate("root/bluegreen-root.sh")),
        unitText: unitText ? indented(unitText) : "",
    });
}
