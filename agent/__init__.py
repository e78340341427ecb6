"""deskpilot: a perceive–plan–act agent that drives a desktop through a vision-language model.

The wings, lowest first; a module imports only from its own wing or lower ones
(tests/test_layers.py checks this):

    errors, reply, redact, paths   the exception tree, a reply as values, masking secrets, paths
    trajectory, run_folder, records   writing a run folder, claiming one, reading one back
    display/                    X displays, their windows, processes that die with their owner
    perception/                 capture, settle, encode, coordinate spaces, target evidence
    parse/                      a model reply in any dialect -> canonical actions in screen pixels
    config                      settings: preset, environment, flags
    model/                      the chat-completions client, prompt, budget, a scripted server
    act, loop, runner           run actions; the perceive–plan–act loop; a whole run
    replay/, report/            replay and record run folders; HTML and animations
    scenarios/                  scenario files, suites, local and Ray backends
    cli/, pytest_plugin         the `deskpilot` command and the pytest plugin
"""

__version__ = "0.1.0"
