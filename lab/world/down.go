package world

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/boot"
)

// Down removes every namespace, mount and file of the lab and stops the
// processes running in its namespaces, by PID. It works whatever state the
// lab is in (after a failed or interrupted up too) and when nothing is up.
func (w *World) Down() error {
	var errs []error
	// The endpoints daemon by its PID (killIn of its namespace below is the
	// fallback).
	if err := w.stopEndpoints(); err != nil {
		errs = append(errs, err)
	}
	// Booted hosts first: their supervisors, containers and overlays.
	if err := boot.StopAll(filepath.Join(w.Dir, "hosts")); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	namespaces, err := w.Namespaces()
	if err != nil {
		return err
	}
	for _, ns := range namespaces {
		if err := killIn(ns); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range namespaces {
		if _, err := run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(w.Dir); err != nil {
		errs = append(errs, err)
	}
	os.Remove(filepath.Dir(w.Dir)) // the labs' common parent, once empty
	return errors.Join(errs...)
}

// Namespaces lists the lab's network namespaces.
func (w *World) Namespaces() ([]string, error) {
	out, err := run("ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var mine []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], w.Prefix+"-") {
			mine = append(mine, f[0])
		}
	}
	return mine, nil
}

// killIn stops every process in a namespace: TERM, then KILL after 3 s.
func killIn(ns string) error {
	pids := func() []string {
		out, _ := run("ip", "netns", "pids", ns)
		return strings.Fields(out)
	}
	for _, sig := range []string{"TERM", "KILL"} {
		p := pids()
		if len(p) == 0 {
			return nil
		}
		run(append([]string{"kill", "-" + sig}, p...)...)
		for i := 0; i < 30 && len(pids()) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if p := pids(); len(p) > 0 {
		return fmt.Errorf("lab: processes %v survive in %s", p, ns)
	}
	return nil
}
