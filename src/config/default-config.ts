/**
 * The config the gateway runs when started without --config: two service-less routes a
 * newcomer can curl right away. Embedded as a string so it ships inside dist/.
 */
export const DEFAULT_CONFIG_YAML = `# Portcullis demo config (Kong 3.x declarative format).
# Start with your own: portcullis start --config kong.yml
_format_version: "3.0"

routes:
  - name: welcome
    paths: [/]
    plugins:
      - name: request-termination
        config:
          status_code: 200
          message: "Portcullis is running. Try /echo"

  - name: echo
    paths: [/echo]
    plugins:
      - name: request-termination
        config:
          status_code: 200
          echo: true
`;
