// The ebu adapter: its own module, so the workspace never depends on ../shared. ebu comes from
// its published source beside this checkout (see install.sh); it needs only the standard
// library.
module state-conformance/adapters/ebu

go 1.24.2

require github.com/jilio/ebu v0.0.0

replace github.com/jilio/ebu => ../../../shared/third-party/ebu
