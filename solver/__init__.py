"""heterofem solver: config, materials, physics, coupling, outputs, CLI."""
