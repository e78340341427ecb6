"""deskpilot: a perceive–plan–act agent that drives a desktop through a vision-language model.

The wings, lowest first; a module imports only from its own wing or lower ones
(tests/test_layers.py checks this):

    errors, reply, redact, paths   the exception tree, a reply as values, masking secrets, paths
    trajectory, run_folder, records   writing a run folder, claiming one, reading one back
    display/                    X displays, their windows and accessibility trees, processes
                                that die with their owner
    perception/                 capture, settle, encode, coordinate spaces, target evidence,
                                the element list for --observe a11y
    desktops/                   the desktop seam (base.py) and one folder per backend
    parse/                      a model reply in any dialect -> canonical actions in screen pixels
    config                      settings: preset, environment, flags
    model/                      the chat-completions client, prompt, budget, a scripted server
    policy, killswitch, act,    the policy gate; Ctrl+C and the stop/pause hotkeys; run actions;
    loop, runner                the perceive–plan–act loop; a whole run
    replay/, report/            replay and record run folders; HTML and animations
    view/                       the live view: a desktop in a browser tab, with take-over
    scenarios/                  scenario files, suites, local and Ray backends
    mcp/                        the MCP server: desktop tools, whole tasks, run folders as resources
    cli/, pytest_plugin         the `deskpilot` command and the pytest plugin
"""

__version__ = "0.1.0"
