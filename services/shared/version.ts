import pkg from "../../package.json" with { type: "json" };

/** The release of this build; the image build stamps the same value into its bundle names. */
export const VERSION: string = pkg.version;
