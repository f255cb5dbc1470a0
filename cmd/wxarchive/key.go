package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) keyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "key",
		Short: "Manage the checkpoint signing key",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("a subcommand is required\n%s", c.UsageString())
		},
	}
	c.AddCommand(a.keyRotateCmd())
	return c
}

func (a *app) keyRotateCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "rotate",
		Short: "Replace the checkpoint signing key; the old key vouches for the new one in the journal",
		Long: `Rotate writes a new checkpoint signing key and journals a key.rotated event naming
its public key, with a note the old key signs over it; the event is committed under
a checkpoint of the old key, and every later checkpoint is signed by the new key.
verify follows the chain from the key the archive was created with, so an auditor
holding the old public key (or the new one) can still check the whole history.
Keep a copy of the new public key outside this machine, and give it to every
witness that checks this archive's signature ('wxarchive witness serve --log
ORIGIN=KEY'): it refuses checkpoints its old key did not sign. The archive must
not be in use (stop serve first).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := a.openWriter(ctx, true)
			if err != nil {
				return err
			}
			defer r.Close(ctx)
			old := r.Config.PublicKey
			key, idx, err := r.RotateKey(ctx, actor("cli"))
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"public_key": key, "previous_key": old, "journal_index": idx})
			}
			fmt.Fprintf(a.stdout, "Rotated the signing key (journal event %d). New checkpoint public key (keep a copy elsewhere):\n  %s\nPrevious key:\n  %s\n", idx, key, old)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the keys as JSON")
	return c
}
