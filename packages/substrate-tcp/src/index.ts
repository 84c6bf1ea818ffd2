// Not built yet: see the open issues. The package exists so the workspace has its final shape.
export {};
