"""pywayland definitions of the wlroots protocols that pywayland does not ship.

Each module is written by hand from the public protocol specification (interface names,
versions, and the requests and events in their wire order with their argument types), in the
shape pywayland's scanner gives: an Interface, a Proxy with the requests, a Resource whose
methods declare the events. Only the client side is used; the Resource classes exist because
pywayland learns an interface's events from them.
"""
