package ctl

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/progress"
	"github.com/wyvern-sdn/wyvern/internal/topology"
)

// topologyFormats are the -o values of the topology command; "table" (the
// global default) means svg there.
var topologyFormats = []string{"svg", "png", "dot"}

func (a *app) topologyCommand() *cobra.Command {
	var project, file string
	cmd := &cobra.Command{
		Use:   "topology",
		Short: "Draw the networks, subnets, routers, ports (by chassis) and floating IPs (-o svg|png|dot)",
		Long: `Topology draws the logical network as the API shows it to the caller:
networks with their subnets, routers with their interfaces and gateway,
the external network, floating IPs, and the VM ports grouped by the
chassis they are bound to, coloured by status (green ACTIVE, red DOWN,
yellow BUILD). A dead chassis is shaded red.

-o dot prints the Graphviz DOT text; svg (the default) and png are
rendered with Graphviz's dot, which must be installed (Debian: graphviz).`,
		Example: `  wyvernctl topology -o svg --file cloud.svg
  wyvernctl topology --project 5c1a... -o png --file blue.png
  wyvernctl topology -o dot | dot -Tpdf > cloud.pdf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			format := a.output
			if format == "table" {
				format = "svg"
			}
			if !slices.Contains(topologyFormats, format) {
				return fmt.Errorf("unknown output format %q (want svg, png or dot)", format)
			}
			if format == "png" && file == "" && progress.IsTerminal(a.stdout) {
				return errors.New("-o png writes binary data: give --file, or redirect the output")
			}
			c, err := a.networkClient(ctx)
			if err != nil {
				return err
			}
			topo, err := loadTopology(ctx, c)
			if err != nil {
				return err
			}
			out := topology.DOT(topo, topology.Options{Project: project})
			if format != "dot" {
				if out, err = topology.Render(ctx, out, format); err != nil {
					return err
				}
			}
			if file != "" {
				if err := os.WriteFile(file, out, 0o644); err != nil {
					return fmt.Errorf("--file: %w", err)
				}
				fmt.Fprintf(a.stderr, "wrote %s (%d bytes)\n", file, len(out))
				return nil
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "draw only this project's resources (id), and the networks they use")
	cmd.Flags().StringVar(&file, "file", "", "write the picture to this file instead of standard output")
	return cmd
}
