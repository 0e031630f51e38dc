"""Networks: layers with hand-written backward passes, multilayer networks, data sets."""
