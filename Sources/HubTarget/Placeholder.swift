// HubTarget: see the module's issue. Placeholder until implemented.
